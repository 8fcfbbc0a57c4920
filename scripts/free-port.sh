# Sourced by the VM rigs (image/test.sh, scripts/midi-vm.sh): a loopback TCP
# port nothing listens on, for qemu's hostfwd.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}
