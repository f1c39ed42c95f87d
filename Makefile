# SPDX-License-Identifier: GPL-2.0-or-later
#
# irqlab's two commands, and a few for developers.  The work is done by
# scripts/irqlab-build (set-up, patching, build, tests), which skips what is
# already done; see README.md and docs/building.rst.

BUILD := scripts/irqlab-build

.PHONY: check check-sanitizers fuzz demo setup build test bench soak export-patches \
	clean distclean help

## make check: set up everything, build (the sanitizer build too), run
## every test (a short run of each fuzz target too), print timings.
check:
	@$(BUILD) reset-times setup san-build test times

## make check-sanitizers: irqlab's qtests and a native guest run on QEMU
## built with ASan and UBSan (build/qemu-sanitizers); any report fails.
check-sanitizers:
	@$(BUILD) reset-times setup san-build san-test times

## make fuzz: each fuzz target for FUZZ_SECONDS (10), with executions,
## coverage and crashes per target (docs/building.rst).
FUZZ_SECONDS ?= 10
fuzz:
	@$(BUILD) setup san-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/irqlab-fuzz

## make demo: set up everything and run the main job.
demo:
	@$(BUILD) reset-times setup demo times

## make setup: set-up and build only.
setup build:
	@$(BUILD) setup

## make test: the tests, on what is built.
test:
	@$(BUILD) test

## make bench: instructions per MSI-X message, with and without irqlab.
bench:
	@scripts/irqlab-bench

## make soak: the main job SOAK_RUNS times, then as often with the host loaded.
SOAK_RUNS ?= 100
soak:
	@$(BUILD) setup
	@scripts/irqlab soak $(SOAK_RUNS)

## make export-patches: a git-am-able series in build/export/series.
export-patches:
	@$(BUILD) setup
	@scripts/irqlab-export

## make clean: drop the QEMU builds (not the downloads or the source tree).
clean:
	rm -rf build/qemu build/qemu-base build/qemu-sanitizers build/stamps/configure \
		build/stamps/baseline build/stamps/san-configure

## make distclean: drop everything under build/.
distclean:
	rm -rf build

help:
	@sed -n 's/^## //p' Makefile
