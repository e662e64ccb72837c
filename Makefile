# Bridgeport: `make demo` and `make test` work on a fresh Debian 12 machine (run as root).
SHELL        := /bin/bash
SWIFT        ?= swift
CLANG        ?= clang
BUILD        := build
BPF_OUT      := $(BUILD)/bpf
BPF_SOURCES  := $(wildcard bpf/*.bpf.c)
BPF_OBJECTS  := $(patsubst bpf/%.bpf.c,$(BPF_OUT)/%.bpf.o,$(BPF_SOURCES))
ARCH_INCLUDE := /usr/include/$(shell uname -m)-linux-gnu
BIN          := .build/debug/bridgeport

# Debian packages the build, tests and demo use.
DEB_PACKAGES := libbpf-dev libelf-dev zlib1g-dev libnl-3-dev libnl-route-3-dev libsqlite3-dev \
                pkg-config iproute2 bpftool iputils-ping util-linux procps curl python3 prometheus nftables

.PHONY: deps bpf build test demo demo-down bench clean

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The objects are embedded in the binary (Sources/CBPF/embedded.c): touching it makes
# SwiftPM embed them again.
bpf: $(BPF_OUT)/.embedded

$(BPF_OUT)/.embedded: $(BPF_OBJECTS)
	touch Sources/CBPF/embedded.c $@

$(BPF_OUT)/%.bpf.o: bpf/%.bpf.c bpf/*.h bpf/lib/*.h
	@mkdir -p $(BPF_OUT)
	$(CLANG) -target bpf -O2 -g -Wall -Werror -I$(ARCH_INCLUDE) -c $< -o $@

build: deps bpf
	$(SWIFT) build

test: build
	$(SWIFT) test
	Tests/system/run.sh $(BIN)

demo: build
	Tests/system/demo.sh $(BIN) $(if $(KEEP),--keep)

# Removes what `make demo KEEP=1` left running.
demo-down:
	Tests/system/demo.sh $(BIN) --down

# Benchmarks run the release build, once per attach mode.
bench: deps bpf
	$(SWIFT) build -c release
	ATTACH=tcx Tests/system/bench.sh .build/release/bridgeport
	ATTACH=tc Tests/system/bench.sh .build/release/bridgeport
	@echo; echo "## Scrape cost (release build, medians of 15)"; echo
	.build/release/exporter-bench

clean:
	rm -rf $(BUILD) .build
