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
                pkg-config iproute2 bpftool iputils-ping util-linux procps curl python3 prometheus nftables wrk etcd-server \
                containernetworking-plugins dnsutils

.PHONY: deps bench-deps runtime-deps bpf build test test-runtimes demo demo-down bench clean format

# ... and the ones only `make bench` needs (the paths it compares Bridgeport with, and dnsperf,
# the load of bench/dns.sh).
BENCH_PACKAGES := iptables iperf3 socat dnsperf

# ... and the ones `make test-runtimes` runs: real, unmodified container runtimes (their
# daemons run in the tests' own namespaces) and a static busybox for their image.
RUNTIME_PACKAGES := podman runc containerd docker.io busybox-static

# apt_install: installs whichever of the packages given is missing, without starting any
# daemon in the machine's namespaces (containerd, dockerd, etcd and Prometheus would start on
# install otherwise): Debian's maintainer scripts ask /usr/sbin/policy-rc.d first, and it must
# answer 101. One the machine has is kept as it is, and must answer 101; else one is put
# there for the install and taken away after.
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  made=; \
	  if [ -e /usr/sbin/policy-rc.d ]; then \
	    /usr/sbin/policy-rc.d; answer=$$?; \
	    [ $$answer -eq 101 ] || { echo "/usr/sbin/policy-rc.d answers $$answer, not 101: installing $$missing would start daemons" >&2; exit 1; }; \
	  else printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made=1; fi; \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; status=$$?; \
	  [ -z "$$made" ] || rm -f /usr/sbin/policy-rc.d; \
	  exit $$status; \
	fi
endef

deps:
	$(call apt_install,$(DEB_PACKAGES))

bench-deps: deps
	$(call apt_install,$(BENCH_PACKAGES))

runtime-deps: deps
	$(call apt_install,$(RUNTIME_PACKAGES))

# The objects are embedded in the binary (Sources/CBPF/embedded.c): touching it makes
# SwiftPM embed them again.
bpf: $(BPF_OUT)/.embedded

$(BPF_OUT)/.embedded: $(BPF_OBJECTS)
	touch Sources/CBPF/embedded.c $@

$(BPF_OUT)/%.bpf.o: bpf/%.bpf.c bpf/*.h bpf/lib/*.h
	@mkdir -p $(BPF_OUT)
	$(CLANG) -target bpf -mcpu=v3 -O2 -g -Wall -Werror -I$(ARCH_INCLUDE) -c $< -o $@

build: deps bpf
	$(SWIFT) build

test: build
	$(SWIFT) test
	Tests/system/run.sh $(BIN)

# Podman and containerd with bridgeport-cni, dockerd with the remote driver (Tests/runtimes):
# longer, so apart from `make test`.
test-runtimes: build runtime-deps
	Tests/system/run.sh $(BIN) $(wildcard $(CURDIR)/Tests/runtimes/*.sh)

# The Swift sources as .swift-format lays them out (4 spaces, lines up to 120).
format:
	$(dir $(shell command -v $(SWIFT)))swift-format format --configuration .swift-format --in-place --recursive Sources Tests Package.swift

demo: build
	Tests/system/demo.sh $(BIN) $(if $(KEEP),--keep)

# Removes what `make demo KEEP=1` left running.
demo-down:
	Tests/system/demo.sh $(BIN) --down

# The load generator the path benchmarks use (client and server).
$(BUILD)/loadgen: bench/tools/loadgen.c
	@mkdir -p $(BUILD)
	cc -O2 -Wall -Wextra -Werror -pthread -o $@ $<

# Benchmarks run the release build; results go to bench/results/latest.md.
bench: bench-deps bpf $(BUILD)/loadgen
	$(SWIFT) build -c release
	bench/run.sh .build/release/bridgeport $(BUILD)/loadgen

clean:
	rm -rf $(BUILD) .build
