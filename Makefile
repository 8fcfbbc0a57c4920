# takebox: the front door. CI runs `make test` and nothing else.
SHELL := /bin/bash
CARGO ?= cargo
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: run test lint unit bench build release clean help install uninstall

help:
	@echo "make run    build and start takebox on loopback (control :5000, capture :5001)"
	@echo "make test   install what the tests need, then lint and run every test"
	@echo "make bench  speed and memory against peers (arecord, sox, librosa)"
	@echo "make install    on the recording computer: release build, binary, unit, config, user"
	@echo "                (PREFIX=$(PREFIX) DESTDIR= SHARE=//board/takebox SHARE_USER= SHARE_PASSWORD=)"
	@echo "make uninstall  remove them again; config and recordings stay"

build:
	scripts/deps.sh build
	$(CARGO) build --locked

release:
	scripts/deps.sh build
	$(CARGO) build --locked --release

run:
	scripts/deps.sh build run
	$(CARGO) build --locked --release
	scripts/run.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

test:
	scripts/deps.sh build test
	$(MAKE) lint
	$(CARGO) test --locked

bench:
	scripts/deps.sh build bench
	$(CARGO) build --locked --release
	scripts/bench-capture.sh

# The recording computer. SHARE=//board/takebox also installs the CIFS mount unit.
install: release
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" scripts/install.sh install

uninstall:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" scripts/install.sh uninstall

clean:
	$(CARGO) clean
	rm -rf .run artifacts
