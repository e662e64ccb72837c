# Bridgeport: `make demo` and `make test` work on a fresh Debian 12 machine (run as root).
SHELL        := /bin/bash
SWIFT        ?= swift
CLANG        ?= clang
OBJCOPY      ?= llvm-objcopy
BUILD        := build
BPF_OUT      := $(BUILD)/bpf
BPF_SOURCES  := $(wildcard bpf/*.bpf.c)
BPF_OBJECTS  := $(patsubst bpf/%.bpf.c,$(BPF_OUT)/%.bpf.o,$(BPF_SOURCES))
ARCH_INCLUDE := /usr/include/$(shell uname -m)-linux-gnu
BIN          := .build/debug/bridgeport

# Debian packages the build, tests and demo use.
# zlib1g-dev: async-http-client (the etcd client) links zlib, through swift-nio-extras.
DEB_PACKAGES := libbpf-dev libelf-dev libdeflate-dev zlib1g-dev libnl-3-dev libnl-route-3-dev libsqlite3-dev libyaml-dev \
                pkg-config iproute2 bpftool iputils-ping util-linux procps curl python3 prometheus nftables wrk etcd-server \
                containernetworking-plugins dnsutils ethtool

.PHONY: deps bench-deps runtime-deps bpf bpf-counted build release install uninstall deb test test-package test-runtimes \
        demo demo-down bench clean format

# ... and the ones only `make bench` needs (the paths it compares Bridgeport with: iptables
# brings ip6tables too; and dnsperf, the load of bench/dns.sh).
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

# -g for BTF, which libbpf and the verifier's line info need; the DWARF that comes with it
# is stripped (0.6 MB of the binaries that embed the objects).
BPF_CFLAGS := -target bpf -mcpu=v3 -O2 -g -Wall -Werror -I$(ARCH_INCLUDE)
$(BPF_OUT)/%.bpf.o: bpf/%.bpf.c bpf/*.h bpf/lib/*.h
	@mkdir -p $(BPF_OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.full
	$(OBJCOPY) --strip-debug $@.full $@ && rm $@.full

# The same objects with every helper call counted (bpf/lib/helper_count.h), for `make bench`'s
# helper calls per path and a test of them; nothing embeds or ships these.
BPF_COUNTED_OUT := $(BUILD)/bpf-counted
bpf-counted: $(patsubst bpf/%.bpf.c,$(BPF_COUNTED_OUT)/%.bpf.o,$(BPF_SOURCES))

$(BPF_COUNTED_OUT)/%.bpf.o: bpf/%.bpf.c bpf/*.h bpf/lib/*.h
	@mkdir -p $(BPF_COUNTED_OUT)
	$(CLANG) $(BPF_CFLAGS) -DBP_COUNT_HELPERS -c $< -o $@.full
	$(OBJCOPY) --strip-debug $@.full $@ && rm $@.full

build: deps bpf
	$(SWIFT) build

# Release binaries that run without a Swift toolchain: the Swift runtime and
# FoundationEssentials linked statically, the BPF objects embedded, stripped, in build/release. Built again only
# when a source changed (a full build takes minutes).
RELEASE      := $(BUILD)/release
RELEASE_BINS := $(RELEASE)/bridgeport $(RELEASE)/bridgeport-cni
release: $(RELEASE_BINS)

# The toolchain's own directory, whose ld.lld links them.
TOOLCHAIN_BIN := $(dir $(realpath $(shell command -v $(SWIFT))))

# The version script keeps the binaries' own symbols out of the dynamic symbol table
# (-static-stdlib links with -export-dynamic): --gc-sections may then drop what nothing calls.
# The toolchain's lld links them, with packed relative relocations (DT_RELR, glibc 2.36):
# 26 KB in place of gold's 3.3 MB of .rela.dyn for a position-independent binary.
$(RELEASE)/%: Makefile Package.swift $(wildcard Package.resolved) $(shell find Sources Plugins -type f) $(BPF_OUT)/.embedded
	@mkdir -p $(RELEASE)
	echo '{ local: *; };' >$(RELEASE)/hidden.map
	echo '{ "schemaVersion": "1.0", "linker": { "path": "$(TOOLCHAIN_BIN)ld.lld", "extraCLIOptions": ["-z", "pack-relative-relocs"] } }' \
	    >$(RELEASE)/toolset.json
	$(SWIFT) build -c release --static-swift-stdlib --disable-local-rpath --product $* --toolset $(CURDIR)/$(RELEASE)/toolset.json \
	    -Xlinker --version-script=$(CURDIR)/$(RELEASE)/hidden.map
	strip -o $@ .build/release/$*

# `make install PREFIX=/usr/local`, and DESTDIR=... for a staging root. The unit runs the
# installed binary; an existing daemon.json is never overwritten.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
UNITDIR    ?= $(PREFIX)/lib/systemd/system
CNIBINDIR  ?= /opt/cni/bin
SYSCONFDIR ?= /etc
DAEMON_JSON := $(DESTDIR)$(SYSCONFDIR)/bridgeport/daemon.json

install: $(RELEASE_BINS)
	install -D -m 755 $(RELEASE)/bridgeport $(DESTDIR)$(BINDIR)/bridgeport
	install -D -m 755 $(RELEASE)/bridgeport-cni $(DESTDIR)$(CNIBINDIR)/bridgeport-cni
	@mkdir -p $(BUILD)
	sed 's|^ExecStart=[^ ]*/bridgeport |ExecStart=$(BINDIR)/bridgeport |' contrib/bridgeport.service >$(BUILD)/bridgeport.service
	install -D -m 644 $(BUILD)/bridgeport.service $(DESTDIR)$(UNITDIR)/bridgeport.service
	[ -e $(DAEMON_JSON) ] || install -D -m 644 contrib/daemon.json $(DAEMON_JSON)

# Removes what `install` put there. daemon.json goes only as installed (an admin's changes
# stay, as dpkg keeps a changed conffile); the unit must be disabled first.
uninstall:
	@! [ -L $(DESTDIR)$(SYSCONFDIR)/systemd/system/multi-user.target.wants/bridgeport.service ] || \
	  { echo "bridgeport.service is enabled: systemctl disable --now bridgeport first" >&2; exit 1; }
	rm -f $(DESTDIR)$(BINDIR)/bridgeport $(DESTDIR)$(CNIBINDIR)/bridgeport-cni $(DESTDIR)$(UNITDIR)/bridgeport.service
	@if cmp -s contrib/daemon.json $(DAEMON_JSON); then rm -f $(DAEMON_JSON); \
	elif [ -e $(DAEMON_JSON) ]; then echo "kept $(DAEMON_JSON): it was changed"; fi
	@rmdir --ignore-fail-on-non-empty $(DESTDIR)$(SYSCONFDIR)/bridgeport 2>/dev/null || true

# The Debian package, from `make install` into a staging root with Debian's paths (the CNI
# plugin where Debian's runtimes look: /usr/lib/cni) and contrib/deb's control file and
# maintainer scripts.
DEB_VERSION := $(shell sed -n 's/^public let bridgeportVersion = "\(.*\)"/\1/p' Sources/API/Views.swift)
DEB_ARCH    := $(shell dpkg --print-architecture 2>/dev/null)
DEB         := $(BUILD)/bridgeport_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_ROOT    := $(BUILD)/deb-root
deb: $(DEB)

$(DEB): $(RELEASE_BINS) contrib/bridgeport.service contrib/daemon.json $(wildcard contrib/deb/*)
	rm -rf $(DEB_ROOT)
	$(MAKE) --no-print-directory install DESTDIR=$(DEB_ROOT) PREFIX=/usr UNITDIR=/lib/systemd/system CNIBINDIR=/usr/lib/cni SYSCONFDIR=/etc
	install -d $(DEB_ROOT)/DEBIAN
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' -e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)/" \
	    contrib/deb/control >$(DEB_ROOT)/DEBIAN/control
	install -m 755 contrib/deb/postinst contrib/deb/prerm contrib/deb/postrm $(DEB_ROOT)/DEBIAN/
	echo /etc/bridgeport/daemon.json >$(DEB_ROOT)/DEBIAN/conffiles
	dpkg-deb --root-owner-group --build $(DEB_ROOT) $@

# Tests/package: the release binaries without a Swift toolchain, install/uninstall, the package.
PACKAGE_TESTS := $(wildcard $(CURDIR)/Tests/package/*.sh)

# The translation tests run twice: their packets CHECKSUM_COMPLETE (the default), then
# CHECKSUM_NONE, whose L4 checksums the programs compute themselves (bpf/lib/csum.h).
TRANSLATION_TESTS := BPFTests\.(NATAndPolicyTests|FlowTests|FlowEventTests|ICMPTests|PolicyPropertyTests|RelatedUntranslatedTests|NAT66Tests|Publish6Tests|NAT66ErrorAndFragmentTests|IPv6Tests|IPv6PropertyTests)

test: build release deb
	$(SWIFT) test
	BRIDGEPORT_TEST_CHECKSUM=none $(SWIFT) test --skip-build --filter '$(TRANSLATION_TESTS)'
	Tests/system/run.sh $(BIN)
	Tests/system/run.sh $(RELEASE)/bridgeport $(PACKAGE_TESTS)

test-package: release deb
	Tests/system/run.sh $(RELEASE)/bridgeport $(PACKAGE_TESTS)

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

# Benchmarks run the release build (the CLI's latency the shipped one, build/release);
# results go to bench/results/latest.md.
bench: bench-deps bpf $(BUILD)/loadgen $(RELEASE_BINS)
	$(SWIFT) build -c release
	CLANG=$(CLANG) bench/run.sh .build/release/bridgeport $(BUILD)/loadgen

clean:
	rm -rf $(BUILD) .build
