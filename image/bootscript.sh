#!/usr/bin/env bash
# Print the U-Boot boot script (boot.cmd, for mkimage -T script) that picks
# the root slot: RAUC's U-Boot scheme (BOOT_ORDER, BOOT_x_LEFT tries), kept in
# abstate.txt on the boot partition rather than in U-Boot's environment, so
# it needs no knowledge of where a board's U-Boot keeps its environment.
#
#   image/bootscript.sh ARCH DISK_ID
#
# Only ordinary commands (load, env import/export, fatwrite, test, setenv,
# booti/zboot): no setexpr (qemu-x86's U-Boot lacks it), so a try is counted
# down with tests. Each slot carries its own kernel and initrd in /boot (and
# the board's device trees in /boot/dtbs): a kernel update is a slot update.
# Slot A is partition 2, slot B partition 3 (root=PARTUUID=DISK_ID-0N).
set -euo pipefail
arch=${1:?usage: image/bootscript.sh arm64|amd64 DISK_ID}
disk_id=${2:?DISK_ID}
pre=
case $arch in
  # The board's console is ttyAML0; qemu's virt machine's is ttyAMA0.
  # Debian's arm64 vmlinuz is a plain Image (33 MB), booted where it was
  # loaded; a gzip one (another kernel in a bundle) is unpacked by booti at
  # kernel_comp_addr_r (the board's U-Boot sets one; qemu's has none: 256 MiB
  # into its RAM, above the initrd) and needs its compressed size. The board's
  # U-Boot names its device tree in fdtfile (loaded from the slot); qemu's
  # names none and passes its own (fdtcontroladdr), which describes the VM.
  arm64)
    console="console=ttyAMA0 console=ttyAML0,115200"
    boot='test -n "${kernel_comp_addr_r}" || setenv kernel_comp_addr_r 0x50000000
setenv kernel_comp_size ${filesize}
setenv tb_fdt ${fdtcontroladdr}
if test -n "${fdtfile}"; then
  if load ${devtype} ${devnum}:${tb_part} ${fdt_addr_r} /boot/dtbs/${fdtfile}; then setenv tb_fdt ${fdt_addr_r}; fi
fi
booti ${kernel_addr_r} ${ramdisk_addr_r}:${tb_initrd_size} ${tb_fdt}' ;;
  amd64)
    console="console=ttyS0"
    # Above the room the kernel unpacks itself into from 16 MiB.
    pre='setenv ramdisk_addr_r 0x10000000'
    boot='zboot ${kernel_addr_r} 0 ${ramdisk_addr_r} ${tb_initrd_size}' ;;
  *) echo "image/bootscript.sh: ARCH must be arm64 or amd64" >&2; exit 2 ;;
esac

cat <<HEAD
# takebox: boot slot A or B (written by image/bootscript.sh; see README, "Updates")
echo "takebox: A/B boot script"
$pre
setenv BOOT_ORDER
setenv BOOT_A_LEFT
setenv BOOT_B_LEFT
if load \${devtype} \${devnum}:1 \${ramdisk_addr_r} abstate.txt; then
  env import -t \${ramdisk_addr_r} \${filesize} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fi
test -n "\${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "\${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "\${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 0
setenv tb_slot
for s in \${BOOT_ORDER}; do
HEAD
# One block per slot: take a try from it if it has any left.
for slot in A B; do
  part=$([[ $slot == A ]] && echo 2 || echo 3)
  cat <<SLOT
  if test -z "\${tb_slot}" && test "\$s" = $slot; then
    if test "\${BOOT_${slot}_LEFT}" = 3; then setenv BOOT_${slot}_LEFT 2; setenv tb_slot $slot;
    elif test "\${BOOT_${slot}_LEFT}" = 2; then setenv BOOT_${slot}_LEFT 1; setenv tb_slot $slot;
    elif test "\${BOOT_${slot}_LEFT}" = 1; then setenv BOOT_${slot}_LEFT 0; setenv tb_slot $slot;
    fi
    test -n "\${tb_slot}" && setenv tb_part $part
  fi
SLOT
done
cat <<TAIL
done
if test -z "\${tb_slot}"; then
  echo "takebox: no slot has tries left: 3 more for each, then reset"
  setenv BOOT_A_LEFT 3
  setenv BOOT_B_LEFT 3
fi
env export -t \${ramdisk_addr_r} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fatwrite \${devtype} \${devnum}:1 \${ramdisk_addr_r} abstate.txt \${filesize}
test -n "\${tb_slot}" || reset
echo "takebox: booting slot \${tb_slot} (order \${BOOT_ORDER}, tries left A=\${BOOT_A_LEFT} B=\${BOOT_B_LEFT})"
setenv bootargs "root=PARTUUID=$disk_id-0\${tb_part} rauc.slot=\${tb_slot} ro rootwait $console"
# A slot whose kernel does not load has used its try: reset to the next one.
load \${devtype} \${devnum}:\${tb_part} \${ramdisk_addr_r} /boot/initrd.img || reset
setenv tb_initrd_size \${filesize}
load \${devtype} \${devnum}:\${tb_part} \${kernel_addr_r} /boot/vmlinuz || reset
$boot
echo "takebox: the kernel of slot \${tb_slot} did not start"
reset
TAIL
