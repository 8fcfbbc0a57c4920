#!/usr/bin/env bash
# Cross-compile takebox's binaries for the board (aarch64), rigs section 3:
# Debian's rustc-web/cargo-web with the arm64 standard library, gcc's aarch64
# linker and the arm64 alsa-lib from multiarch. rustup's toolchain (first on
# PATH) has no aarch64 std, so Debian's tools are named by their full path.
#   scripts/cross.sh            -> target/aarch64-unknown-linux-gnu/release/takebox-*
#   scripts/cross.sh ARGS...    -> cargo build ARGS for aarch64 instead (e.g. a debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export PKG_CONFIG_ALLOW_CROSS=1
export PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
export RUSTC=/usr/bin/rustc
if (($#)); then
  exec /usr/bin/cargo build --locked --target aarch64-unknown-linux-gnu "$@"
fi
/usr/bin/cargo build --locked --release --bins --target aarch64-unknown-linux-gnu
ls -l target/aarch64-unknown-linux-gnu/release/takebox-*
