#!/usr/bin/env bash
# make install / make uninstall on the recording computer (Debian/Ubuntu).
#
#   scripts/install.sh install     binary, unit, sysusers/tmpfiles, default config
#   scripts/install.sh uninstall   removes what install put there; keeps the
#                                  config, the credentials and every recording
#
# Environment (the Makefile passes them through):
#   DESTDIR   staging root (packaging, tests); users, ownership and systemctl
#             are then left to the target system (tmpfiles fixes ownership at boot)
#   PREFIX    where the program goes (default /usr/local); units, sysusers and
#             tmpfiles go where systemd reads them (/etc/systemd/system, /usr/lib),
#             as takebox-capture.conf: the board's image has its own files
#             there, and one machine may be both (image/test.sh's VM)
#   BINDIR_SRC  folder with the built takebox-capture (default target/release)
#   SHARE     //host/share of the board: also install the CIFS mount unit
#   SHARE_USER, SHARE_PASSWORD  written into a new credentials file (0600 root)
#   CONFDIR   the config folder (default /etc/takebox), written into the units
#
# Idempotent: running it twice changes nothing the second time, and a config
# that exists is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:?install|uninstall}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
BINDIR_SRC=${BINDIR_SRC:-target/release}
SHARE=${SHARE:-}
SHARE_USER=${SHARE_USER:-recorder}
SHARE_PASSWORD=${SHARE_PASSWORD:-}
CONFDIR=${CONFDIR:-/etc/takebox}
[[ $CONFDIR == /* ]] || { echo "install.sh: CONFDIR must be absolute, not $CONFDIR" >&2; exit 2; }

root=$DESTDIR
bindir=$root$PREFIX/bin
datadir=$root$PREFIX/share/takebox
unitdir=$root/etc/systemd/system
sysusersdir=$root/usr/lib/sysusers.d
tmpfilesdir=$root/usr/lib/tmpfiles.d
confdir=$root$CONFDIR
# Named apart from the board image's (sysusers.d/takebox-board.conf, formerly
# takebox.conf, and doc/takebox), which installs before 2026-12 wrote over.
# systemd-sysusers reads takebox-board.conf first: where one machine is both,
# the board's fixed ids win over our "takebox -".
sysusers=$sysusersdir/takebox-capture.conf
tmpfiles=$tmpfilesdir/takebox-capture.conf
docdir=$root/usr/share/doc/takebox-capture
live=false # acting on this very system (not a staging root)
[[ -z $DESTDIR ]] && live=true
systemd_running=false
$live && [[ -d /run/systemd/system ]] && systemd_running=true

say() { echo "install.sh: $*"; }

# Copy only when different, so a second run touches nothing (mtimes included).
put() { # MODE SRC DEST
  local mode=$1 src=$2 dest=$3
  if [[ -f $dest ]] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest"
    return 1
  fi
  install -D -m "$mode" "$src" "$dest"
  say "installed $dest"
}

# A shipped file with /usr/bin and /etc/takebox/ rewritten to PREFIX and CONFDIR.
unit_for_prefix() { # SRC OUT
  sed "s|/usr/bin/takebox-|$PREFIX/bin/takebox-|g; s|/etc/takebox\([/ ]\)|$CONFDIR\1|g; s|/etc/takebox\$|$CONFDIR|" "$1" >"$2"
}

# An earlier install's files under the old names, removed only where they are
# the recording computer's (the first line says so): never the board's.
remove_legacy() {
  local f
  for f in "$sysusersdir/takebox.conf" "$tmpfilesdir/takebox.conf"; do
    [[ -f $f ]] && head -n 1 "$f" | grep -q '^# takebox on the recording computer' || continue
    if [[ $f == "$sysusersdir/takebox.conf" ]]; then
      # Installed beside it, under the board's doc folder name.
      rm -f "$root/usr/share/doc/takebox/README.md"
      rmdir "$root/usr/share/doc/takebox" 2>/dev/null || true
    fi
    rm -f "$f"
    say "removed $f (an earlier install's name)"
  done
  return 0
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

install_all() {
  local bin=$BINDIR_SRC/takebox-capture
  [[ -x $bin ]] || { echo "install.sh: $bin is missing: run make release first" >&2; exit 1; }
  local changed=false

  put 0755 "$bin" "$bindir/takebox-capture" && changed=true
  unit_for_prefix systemd/takebox-capture.service "$tmp/takebox-capture.service"
  put 0644 "$tmp/takebox-capture.service" "$unitdir/takebox-capture.service" && changed=true
  put 0644 systemd/takebox-capture.sysusers "$sysusers" || true
  unit_for_prefix systemd/takebox-capture.tmpfiles "$tmp/takebox.tmpfiles"
  put 0644 "$tmp/takebox.tmpfiles" "$tmpfiles" || true
  remove_legacy
  put 0644 examples/install/recording-pc.json "$datadir/config.json" || true
  put 0644 README.md "$docdir/README.md" || true

  # The service user before anything is owned by it.
  if $live; then
    systemd-sysusers "$sysusers"
  fi

  # The config: from the template only when there is none, with a fresh token.
  install -d -m 0750 "$confdir"
  if [[ ! -e $confdir/config.json ]]; then
    local token
    token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    sed "s|\"token\": \"\"|\"token\": \"$token\"|" examples/install/recording-pc.json >"$tmp/config.json"
    install -m 0640 "$tmp/config.json" "$confdir/config.json"
    say "installed $confdir/config.json (new bearer token; set capture.device)"
  else
    say "kept $confdir/config.json"
  fi

  if [[ -n $SHARE ]]; then
    [[ $SHARE == //*/* ]] || { echo "install.sh: SHARE must look like //host/share, not $SHARE" >&2; exit 2; }
    unit_for_prefix systemd/mnt-takebox.mount "$tmp/mnt-takebox.unit"
    sed "s|^What=.*|What=$SHARE|" "$tmp/mnt-takebox.unit" >"$tmp/mnt-takebox.mount"
    put 0644 "$tmp/mnt-takebox.mount" "$unitdir/mnt-takebox.mount" && changed=true
    local cred=$confdir/share.credentials
    if [[ ! -e $cred ]]; then
      # Created 0600 before the password goes in: it is never readable by others.
      (umask 077 && printf 'username=%s\npassword=%s\n' "$SHARE_USER" "$SHARE_PASSWORD" >"$cred")
      say "installed $cred (root only${SHARE_PASSWORD:+, with the given password})"
    else
      chmod 0600 "$cred"
      say "kept $cred"
    fi
  fi

  if $live; then
    systemd-tmpfiles --create "$tmpfiles"
  fi
  if $systemd_running; then
    systemctl daemon-reload
    systemctl enable takebox-capture.service
    if [[ -n $SHARE ]]; then systemctl enable mnt-takebox.mount; fi
    # An upgrade: restart a running daemon onto the new binary or unit.
    if $changed && systemctl -q is-active takebox-capture.service; then
      systemctl restart takebox-capture.service
    fi
  fi
  say "done. Edit $confdir/config.json (capture.device), then: systemctl start takebox-capture"
}

uninstall_all() {
  if $systemd_running; then
    systemctl disable --now takebox-capture.service 2>/dev/null || true
    if [[ -e $unitdir/mnt-takebox.mount ]]; then
      systemctl disable --now mnt-takebox.mount 2>/dev/null || true
    fi
  fi
  local f
  for f in "$bindir/takebox-capture" "$unitdir/takebox-capture.service" \
    "$unitdir/mnt-takebox.mount" "$sysusers" "$tmpfiles" "$datadir/config.json" \
    "$docdir/README.md"; do
    if [[ -e $f ]]; then
      rm -f "$f"
      say "removed $f"
    fi
  done
  remove_legacy
  rmdir "$datadir" "$docdir" 2>/dev/null || true
  if $systemd_running; then systemctl daemon-reload; fi
  say "kept $confdir (config, credentials), the spool and every recording; the user takebox stays"
}

case $action in
  install) install_all ;;
  uninstall) uninstall_all ;;
  *) echo "install.sh: unknown action $action" >&2; exit 2 ;;
esac
