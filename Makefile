# takebox: the front door. CI runs `make test` and nothing else.
SHELL := /bin/bash
CARGO ?= cargo
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: run test lint unit bench build release clean help

help:
	@echo "make run    build and start takebox on loopback (control :5000, capture :5001)"
	@echo "make test   install what the tests need, then lint and run every test"
	@echo "make bench  speed and memory against peers (arecord, sox, librosa, Flask)"

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
	scripts/bench-process.sh
	scripts/bench-control.sh

clean:
	$(CARGO) clean
	rm -rf .run artifacts
