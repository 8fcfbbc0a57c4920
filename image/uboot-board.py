#!/usr/bin/env python3
"""The board's path through the boot script, under qemu's U-Boot.

    image/uboot-board.py IMAGE DTB

qemu's U-Boot names no device tree, so image/test.sh's boots take the
script's qemu branch (U-Boot's own tree). The VIM3's U-Boot names one in
fdtfile and has fdt_addr_r: this sets both at the U-Boot prompt (DTB, e.g.
amlogic/meson-g12b-a311d-khadas-vim3.dtb), runs the same distro boot and
checks that the script loads the tree from the chosen slot's /boot/dtbs and
that booti takes it ("Starting kernel"; a VIM3 kernel goes no further on
qemu's virt machine). The image is not written (snapshot=on).
"""
import os
import select
import subprocess
import sys
import time


def main(image, dtb):
    qemu = subprocess.Popen(
        ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-m", "1024",
         "-bios", "/usr/lib/u-boot/qemu_arm64/u-boot.bin", "-display", "none",
         "-monitor", "none", "-serial", "stdio", "-nic", "none",
         "-drive", f"file={image},format=raw,if=virtio,snapshot=on"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = bytearray()

    def until(pattern, seconds, poke=None):
        """Read the console until PATTERN, sending POKE while it is quiet."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([qemu.stdout], [], [], 0.2)
            if not ready:
                if poke:
                    qemu.stdin.write(poke)
                    qemu.stdin.flush()
                continue
            chunk = os.read(qemu.stdout.fileno(), 4096)
            if not chunk:
                return False
            seen.extend(chunk)
            if pattern in seen:
                return True
        return False

    try:
        # Any key stops autoboot; the prompt answers once it is stopped.
        if not (until(b"Hit any key", 300) and until(b"=> ", 30, poke=b" ")):
            return fail("no U-Boot prompt", seen)
        del seen[:]
        for cmd in (f"setenv fdtfile {dtb}", "setenv fdt_addr_r 0x40000000", "run bootcmd"):
            qemu.stdin.write(cmd.encode() + b"\n")
            qemu.stdin.flush()
            time.sleep(0.5)
        if not until(b"Starting kernel", 300):
            return fail("booti did not start the kernel", seen)
    finally:
        qemu.kill()
        qemu.wait()
    text = seen.decode(errors="replace").replace("\r", "")
    if "Booting using the fdt blob at 0x40000000" not in text:
        return fail(f"the script did not boot with {dtb} from the slot", seen)
    slot = next((l for l in text.splitlines() if l.startswith("takebox: booting slot")), "?")
    print(f"image/uboot-board.py: with the board's fdtfile={dtb}: {slot}; "
          "its device tree loaded from the slot and taken by booti")
    return 0


def fail(why, seen):
    tail = seen.decode(errors="replace").replace("\r", "").splitlines()[-25:]
    print(f"image/uboot-board.py: FAIL: {why}\n" + "\n".join(tail), file=sys.stderr)
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: image/uboot-board.py IMAGE DTB")
    sys.exit(main(sys.argv[1], sys.argv[2]))
