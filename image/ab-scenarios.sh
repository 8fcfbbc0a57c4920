# The A/B update scenarios (issue 19), sourced by image/test.sh once the board
# has recorded a take, with its helpers (as_root, wait_for, power_on, say,
# fail, ssh_opts) and the kit disk holding the bundles (ab_bundles, below).
# Each prints what booted (the boot script's lines on the console) and how long
# it took, and checks that the settings and the take on the share survived
# (survived, below).

# ab_bundles DIR: a good bundle (a new version of the same root) and one whose
# takebox-control cannot start, made from the image's slot file system.
ab_bundles() {
  local dir=$1 ext4 name
  mkdir -p "$dir"
  ab_sizes=
  for name in good broken foreign; do
    ext4=$run/slot-$name.ext4
    cp --sparse=always "$out/slot-$arch.ext4" "$ext4"
    echo "$(cat "$out/slot-$arch.version")-$name" >"$run/version-$name"
    {
      echo "rm /usr/lib/takebox/version"
      echo "write $run/version-$name /usr/lib/takebox/version"
      if [[ $name == broken ]]; then
        printf '[Service]\nExecStart=\nExecStart=/bin/false\nRestart=no\n' >"$run/broken.conf"
        echo "mkdir /etc/systemd/system/takebox-control.service.d"
        echo "write $run/broken.conf /etc/systemd/system/takebox-control.service.d/broken.conf"
      fi
    } >"$run/debugfs-$name"
    debugfs -w -f "$run/debugfs-$name" "$ext4" >/dev/null 2>&1
    # foreign: signed with a key the image does not trust (refused unwritten).
    local signer=()
    if [[ $name == foreign ]]; then
      openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/O=not takebox" \
        -keyout "$run/foreign.key" -out "$run/foreign.cert" 2>/dev/null
      signer=(RAUC_KEY="$run/foreign.key" RAUC_CERT="$run/foreign.cert")
    fi
    mv "$(env "${signer[@]}" image/bundle.sh "$arch" "$out" "$ext4" "$(cat "$run/version-$name")" | tail -n 1)" "$dir/$name.raucb"
    ab_sizes+="$name $(du -h "$dir/$name.raucb" | cut -f 1), "
    rm -f "$ext4"
  done
}

# What the board says: the slot it runs, the update's last outcome, whether
# mark-good has finished.
board_state() {
  as_root <<<'echo "slot=$(sed -n "s/.*rauc\.slot=\([AB]\).*/\1/p" /proc/cmdline)";
    cat /var/lib/takebox-update/status 2>/dev/null; echo "mark_good=$(systemctl is-active takebox-mark-good.service)"'
}
# on_slot SLOT STATE: the board runs SLOT, mark-good is done and the outcome is STATE.
on_slot() {
  local s
  s=$(board_state) || return 1
  grep -qx "slot=$1" <<<"$s" && grep -qx "state=$2" <<<"$s" && grep -qx 'mark_good=active' <<<"$s"
}
# What the boot script booted since console line $1.
booted_since() {
  tail -n +"$1" "$run/console.log" | tr -d '\r' | sed -n 's/^takebox: booting slot \([AB]\).*/\1/p' | tr '\n' ' '
}
# survived WHEN: the setting saved before the updates, in /var and as the
# running slot's page shows it (a new login: logins do not outlive a boot;
# the page password is carried into each slot), and the take's very bytes.
survived() {
  as_root <<VM || fail "after $1: the settings or the take did not survive"
grep -q '"countdown_duration": 3.5' /var/lib/takebox/config.json
echo '$sha  /srv/takebox/recordings/$path' | sha256sum --check --quiet
VM
  [[ -n $t_page ]] || return 0
  [[ $(post /login "password=$pw") == 303 ]] || fail "after $1: the page password no longer logs in"
  local shown
  shown=$(curl -fsS -m 10 -b "$jar" "http://127.0.0.1:$p_http/settings") &&
    grep -q 'name="countdown_duration" value="3.5"' <<<"$shown" ||
    fail "after $1: the page's Settings do not show the countdown saved before the update"
}

# ab_ssh_install NAME [UNIT]: takebox-update install of the kit's NAME.raucb
# over SSH, as an administrator does; with UNIT, started in the background as
# that transient unit (to be cut short).
ab_ssh_install() {
  local cmd="takebox-update install /run/kit/bundles/$1.raucb"
  [[ -z ${2:-} ]] || cmd="systemd-run --unit=$2 $cmd >/dev/null"
  as_root <<VM || fail "takebox-update install $1.raucb over SSH"
mkdir -p /run/kit
mountpoint -q /run/kit || mount -o ro LABEL=tbkit /run/kit
$cmd
VM
}
# ab_wait WHAT TIMEOUTS CMD...: wait_for counted from now (not from the last
# power-on), up to TIMEOUTS times the boot timeout.
ab_wait() {
  local what=$1 times=$2
  shift 2
  start_ms=$(date +%s%3N)
  BOOT_TIMEOUT=$((BOOT_TIMEOUT * times)) wait_for "$what" "$@" >/dev/null
}

# Settings -> Update as a person does it, with the page login (Settings is
# guarded on the image): a bundle signed with a key the board does not trust
# is refused before a byte of slot B is written, and the page says so; then
# the good bundle goes up (the plain form's multipart upload) and is followed
# on the page until installed.
ab_curl() { curl -sS -b "$run/ab-cookies" -c "$run/ab-cookies" -H "Origin: $ab_url" "$@"; }
page_update_state() { ab_curl -m 10 "$ab_url/settings/update" | sed -n 's/.*"update":{"state":"\([a-z-]*\)".*"busy":false.*/\1/p'; }
page_says() { [[ $(page_update_state) == "$1" ]]; }
slot_b_head() {
  as_root <<'VM'
dev=$(awk '/^device=/{d=substr($0,8)} $0=="bootname=B"{print d}' /etc/rauc/system.conf)
head -c 4M "$dev" | sha256sum
VM
}
ab_page_install() {
  local pw code before start
  ab_url=http://127.0.0.1:$p_http
  pw=$(as_root <<<"sed -n 's/^TAKEBOX_PAGE_PASSWORD=//p' /etc/takebox/takebox.env")
  code=$(ab_curl -m 10 -o /dev/null -w '%{http_code}' --data "password=$pw" "$ab_url/login") || code=none
  [[ $code == 303 ]] || fail "the page login for the update: HTTP $code"
  before=$(slot_b_head)
  code=$(ab_curl -m 600 -o "$run/upload.html" -w '%{http_code}' -F "bundle=@$run/kit/bundles/foreign.raucb" "$ab_url/settings/update") || code=none
  [[ $code == 303 ]] || fail "uploading a bundle on the page: HTTP $code: $(sed -n 's/.*id="update_error">\([^<]*\).*/\1/p' "$run/upload.html")"
  ab_wait "the page to refuse the foreign bundle" 1 page_says failed
  ab_curl -m 10 "$ab_url/settings" | grep -q 'refused before writing' ||
    fail "Settings does not say the foreign bundle was refused: $(ab_curl -m 10 "$ab_url/settings/update")"
  [[ $(slot_b_head) == "$before" ]] || fail "slot B changed although the bundle was refused"
  say "a bundle signed with another key: refused before slot B was touched, the page says so"
  start=$(date +%s)
  code=$(ab_curl -m 600 -o /dev/null -w '%{http_code}' -F "bundle=@$run/kit/bundles/good.raucb" "$ab_url/settings/update") || code=none
  [[ $code == 303 ]] || fail "uploading the good bundle on the page: HTTP $code"
  say "  upload of $(du -h "$run/kit/bundles/good.raucb" | cut -f 1) took $(( $(date +%s) - start )) s"
  ab_wait "the page to say the update is installed" 2 page_says installed
  ab_install_s=$(( $(date +%s) - start ))
  say "  upload and install from the page took ${ab_install_s} s"
}

ab_report=()
# ab_begin WHAT: a scenario starts; it is timed, and its boots read on the
# console, from here.
ab_begin() {
  say "A/B $1"
  t0=$(date +%s) line0=$(($(wc -l <"$run/console.log") + 1))
}
ab_scenario() { # NAME: report what booted and the time since ab_begin
  local took=$(( $(date +%s) - t0 )) booted
  booted=$(booted_since "$line0")
  say "$1: booted ${booted:-nothing new}in ${took} s"
  ab_report+=("$(printf '%-44s booted: %-10s %4d s' "$1" "$booted" "$took")")
}

# The three scenarios, in order: B good, A broken and rolled back, A cut.
ab_run() {
  ab_begin "1: install a bundle into slot B from the page (Settings -> Update), Reboot now, B is marked good"
  ab_page_install
  code=$(ab_curl -o /dev/null -w '%{http_code}' --data '' "$ab_url/settings/reboot") || code=none
  [[ $code == 303 ]] || fail "Reboot now on the page: HTTP $code"
  ab_wait "slot B marked good" 1 on_slot B good
  survived "the update into B"
  ab_scenario "1 good bundle into B"

  ab_begin "2: a bundle whose takebox-control fails: 3 tries, then back on B"
  ab_ssh_install broken
  as_root <<<'systemctl reboot' >/dev/null 2>&1 || true
  ab_wait "the roll-back to slot B" 5 on_slot B rolled-back
  booted=$(booted_since "$line0")
  [[ $booted == "A A A B " ]] || fail "expected three tries of A then B, the boot script booted: $booted"
  reason=$(board_state | sed -n 's/^reason=//p')
  say "rolled back, the board says why: $reason"
  [[ $reason == *takebox-control* ]] || fail "the roll-back gives no reason naming takebox-control: $reason"
  survived "the roll-back"
  ab_scenario "2 broken bundle into A, rolled back"

  ab_power_cut
}

# Scenario 3 on its own (AB=cut in image/test.sh): power cut while RAUC
# copies a bundle into the slot not running; the running one boots again.
ab_power_cut() {
  local from to
  from=$(board_state | sed -n 's/^slot=//p')
  to=$([[ $from == A ]] && echo B || echo A)
  ab_begin "3: power cut while slot $to is being written; the board boots $from"
  ab_ssh_install good takebox-update-cut
  copying() {
    as_root <<<'busctl get-property de.pengutronix.rauc / de.pengutronix.rauc.Installer Progress' |
      grep -q 'Copying image'
  }
  ab_wait "RAUC copying the image into slot $to" 1 copying
  kill -9 "$qemu_pid"
  wait "$qemu_pid" 2>/dev/null || true
  say "power cut while RAUC copied the image"
  power_on
  wait_for "slot $from after the power cut" on_slot "$from" failed >/dev/null
  survived "the power cut"
  ab_scenario "3 power cut while writing $to"
  as_root <<<'rauc status --detailed 2>/dev/null | sed -n "/Boot Status/,\$p" | head -n 12; tail -n 8 /var/lib/takebox-update/log' |
    sed 's/^/  /' || true
}
