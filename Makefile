# takebox: the front door. CI runs `make test` and nothing else.
SHELL := /bin/bash
CARGO ?= cargo
PREFIX ?= /usr/local
DESTDIR ?=
# Board image: output folder, and the signed bootloader (never fetched; README, Deployment).
IMAGE_OUT ?= artifacts/image
UBOOT ?=
CROSS_BIN := target/aarch64-unknown-linux-gnu/release
# Release builds run on the machine that builds them (make install builds on
# the recording computer): code for its own CPU makes `takebox process` about
# 30% faster. `make install NATIVE=` builds a binary for any x86-64 instead.
NATIVE ?= -C target-cpu=native
RELEASE_BUILD = RUSTFLAGS="$$RUSTFLAGS $(NATIVE)" $(CARGO) build --locked --release

.PHONY: run test lint unit bench fuzz soak build release clean help install uninstall \
	image image-test image-amd64 image-test-amd64 image-ab-test-amd64 bundle bundle-amd64 cross \
	gpio-cross-check midi-test

help:
	@echo "make run    build and start takebox on loopback (control :5000, capture :5001)"
	@echo "make test   install what the tests need, then lint and run every test"
	@echo "make soak   $(SOAK_TAKES) takes under injected faults on two namespaced hosts (SOAK_TAKES=, SOAK_SEED=)"
	@echo "make bench  speed and memory against peers (arecord, sox, librosa, pyin/yin, Flask, psql \\copy)"
	@echo "make fuzz   every parser under afl, FUZZ_SECONDS=$(FUZZ_SECONDS) each (FUZZ_TARGETS= to choose)"
	@echo "make install    on the recording computer: release build, binary, unit, config, user"
	@echo "                (PREFIX=$(PREFIX) DESTDIR= SHARE=//board/takebox SHARE_USER= SHARE_PASSWORD=)"
	@echo "make uninstall  remove them again; config and recordings stay"
	@echo "make image      the board's SD/eMMC image (arm64; UBOOT=u-boot.bin.sd.bin) in $(IMAGE_OUT)"
	@echo "make image-test boot it under qemu and record a take onto its share"
	@echo "make image-test-amd64  the same on the quick amd64 variant of the recipe"
	@echo "make image-ab-test-amd64  and its A/B update scenarios (install, roll-back, power cut)"
	@echo "make bundle     a signed update bundle of the image (bundle-amd64: the quick variant)"
	@echo "make midi-test  sample a synth unattended over MIDI in a Debian VM (fluidsynth, snd-aloop)"
	@echo "make gpio-cross-check  takebox-control for aarch64 under qemu-user (part of make test)"

build:
	scripts/deps.sh build
	$(CARGO) build --locked

release:
	scripts/deps.sh build
	$(RELEASE_BUILD)

run:
	scripts/deps.sh build run
	$(RELEASE_BUILD)
	scripts/run.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

test:
	scripts/deps.sh build test soak
	$(MAKE) lint
	mkdir -p artifacts
	set -o pipefail; $(CARGO) test --locked 2>&1 | tee artifacts/cargo-test.log
	$(MAKE) gpio-cross-check
	$(MAKE) image-test-amd64
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "cargo tests: %d passed, %d failed\n", p, f }' artifacts/cargo-test.log

# Issue 18: a synth sampled over MIDI in a VM with real ALSA devices (a VM
# and ~100 takes: not part of make test).
# Release daemons in the VM (an emulated CPU cannot analyse takes in real
# time with a debug build), built for any x86-64: the VM's CPU is not this one.
midi-test:
	scripts/deps.sh build midi
	$(CARGO) build --locked --release --bins
	MIDI_VM_BIN_DIR=target/release $(CARGO) test --locked --test midi_vm -- --ignored --nocapture a_synth_in_a_vm

# Issue 15: a session under faults on two hosts (network namespaces, root).
# `make test` runs the short pass (50 takes) with every other test.
SOAK_TAKES ?= 1000
SOAK_SEED ?= $(shell date +%s)
soak:
	scripts/deps.sh build test soak
	SOAK_TAKES=$(SOAK_TAKES) SOAK_SEED=$(SOAK_SEED) $(CARGO) test --locked --test soak -- --nocapture

# Coverage-guided fuzzing (cargo-afl); `make test` runs the short property pass.
FUZZ_SECONDS ?= 60
fuzz:
	scripts/deps.sh build fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

bench:
	scripts/deps.sh build bench
	$(RELEASE_BUILD)
	scripts/bench-capture.sh
	scripts/bench-abort.sh
	scripts/bench-process.sh
	scripts/bench-pitch.sh
	scripts/bench-control.sh
	scripts/bench-catalog.sh
	scripts/bench-loops.sh

# The recording computer. SHARE=//board/takebox also installs the CIFS mount unit.
install: release
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" scripts/install.sh install

uninstall:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" scripts/install.sh uninstall

# The board (rigs, sections 3 and 4). The arm64 root file system takes
# 16 to 37 minutes (a loaded 2-core machine) the first time; it is cached
# in $(IMAGE_OUT) by its recipe.
cross:
	scripts/deps.sh build cross
	scripts/cross.sh

# The GPIO backend built for the board and started under qemu-user (no chip here:
# it must name the missing chip and serve the page). Debug build, about 3 minutes
# on 2 cores the first time, seconds after.
gpio-cross-check:
	scripts/deps.sh build cross qemu-user
	scripts/gpio-cross-check.sh

image: cross
	scripts/deps.sh image
	BIN_DIR=$(CROSS_BIN) UBOOT="$(UBOOT)" image/build.sh arm64 $(IMAGE_OUT)

image-test: image
	KIT_BIN_DIR=$(CROSS_BIN) image/test.sh arm64 $(IMAGE_OUT)

# The quick variant: same recipe on amd64 with this machine's own (debug) build.
image-amd64:
	scripts/deps.sh build image
	$(CARGO) build --locked --bins
	BIN_DIR=target/debug image/build.sh amd64 $(IMAGE_OUT)

# make test boots the quick variant through U-Boot without the A/B update
# scenarios (AB=0): with them it takes some 30 minutes more under TCG.
# make image-test (arm64) and image-ab-test-amd64 run them (README, "Updates").
image-test-amd64: image-amd64
	AB=0 KIT_BIN_DIR=target/debug image/test.sh amd64 $(IMAGE_OUT)

image-ab-test-amd64: image-amd64
	KIT_BIN_DIR=target/debug image/test.sh amd64 $(IMAGE_OUT)

# A signed update bundle of the image's root slot (README, "Updates"):
# $(IMAGE_OUT)/takebox-ARCH-VERSION.raucb, for `takebox-update install`.
bundle: image
	image/bundle.sh arm64 $(IMAGE_OUT)

bundle-amd64: image-amd64
	image/bundle.sh amd64 $(IMAGE_OUT)

clean:
	$(CARGO) clean
	rm -rf .run artifacts
