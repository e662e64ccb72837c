import Foundation
import Model
import Testing

/// --add-host, --dns and friends, aliases, and the resolv.conf a container gets.
@Suite struct NameSettingsRules {
    @Test(arguments: [
        ("db:10.0.0.5", "db", ExtraHost.Address.ip("10.0.0.5")),
        ("db=10.0.0.5", "db", .ip("10.0.0.5")),
        ("gw:host-gateway", "gw", .hostGateway),
        ("v6:::1", "v6", .ip("::1")),
        ("v6=[2001:db8::1]", "v6", .ip("2001:db8::1")),
    ])
    func addHostForms(text: String, name: String, address: ExtraHost.Address) throws {
        #expect(try ExtraHost(parsing: text) == ExtraHost(name: name, address: address))
    }

    @Test func addHostRefusalsAreDockers() {
        #expect(throws: ModelError.invalidFlag("--add-host", "foo", "bad format for add-host: \"foo\"")) {
            try ExtraHost(parsing: "foo")
        }
        #expect(throws: ModelError.invalidFlag("--add-host", ":1.2.3.4", "bad format for add-host: \":1.2.3.4\"")) {
            try ExtraHost(parsing: ":1.2.3.4")
        }
        #expect(throws: ModelError.invalidFlag("--add-host", "foo:bar", "invalid IP address in add-host: \"bar\"")) {
            try ExtraHost(parsing: "foo:bar")
        }
        let message = "\(ModelError.invalidFlag("--add-host", "foo", "bad format for add-host: \"foo\""))"
        #expect(message == "invalid argument \"foo\" for \"--add-host\" flag: bad format for add-host: \"foo\"")
    }

    @Test func dnsFlagsAreChecked() throws {
        #expect(throws: ModelError.self) {
            try NameSettings(extraHosts: [], servers: ["8.8.8"], search: [], options: [], domainname: nil)
        }
        #expect(throws: ModelError.self) {
            try NameSettings(extraHosts: [], servers: [], search: ["bad domain"], options: [], domainname: nil)
        }
        let settings = try NameSettings(
            extraHosts: ["a:1.2.3.4"], servers: ["9.9.9.9"], search: ["example.com", "."], options: ["ndots:2"],
            domainname: "corp.example")
        #expect(settings.servers == [IPv4Address(9, 9, 9, 9)])
        #expect(settings.search == ["example.com", "."])
        #expect(settings.domainname == "corp.example")
        #expect(try ContainerRequest().nameSettings() == nil)
    }

    @Test func aliasesAreDNSNamesOnUserDefinedNetworks() throws {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        var registry = Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
        let network = try registry.planNetwork(
            NetworkRequest(name: "app", subnet: "10.9.0.0/24"), id: randomID(), now: now, hostPrefixes: [])
        registry.networks.append(network)
        let (container, endpoint) = try registry.planContainer(
            ContainerRequest(name: "web", network: "app", aliases: ["api", "Web_1"]), id: randomID(), now: now)
        #expect(endpoint.first?.aliases == ["api", "Web_1"])
        #expect(container.dnsNames(aliases: ["api", "web"]) == ["web", "api", container.shortID])
        #expect(throws: ModelError.invalidAlias("bad name")) {
            try registry.planContainer(
                ContainerRequest(name: "x", network: "app", aliases: ["bad name"]), id: randomID(), now: now)
        }
        #expect(throws: ModelError.invalidAlias("-x")) {
            try registry.planContainer(
                ContainerRequest(name: "x", network: "app", aliases: ["-x"]), id: randomID(), now: now)
        }
        #expect(throws: ModelError.aliasWithoutNames) {
            try registry.planContainer(ContainerRequest(name: "x", aliases: ["a"]), id: randomID(), now: now)
        }
    }

    @Test func aStoppedContainersPortsAreFreeUntilItStarts() throws {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        var registry = Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
        var (first, _) = try registry.planContainer(
            ContainerRequest(name: "a", ports: ["8080:80"]), id: randomID(), now: now)
        first.stopped = true
        registry.containers.append(first)
        #expect(first.publishedPorts.isEmpty)
        let (second, _) = try registry.planContainer(
            ContainerRequest(name: "b", ports: ["8080:80"]), id: randomID(), now: now)
        #expect(second.ports.map(\.hostPort) == [8080], "the stopped container's port is free")
        registry.containers.append(second)
        #expect(throws: ModelError.portAllocated("0.0.0.0:8080")) { try registry.planStart("a") }
        registry.containers.removeAll { $0.name == "b" }
        #expect(try registry.planStart("a").stopped == nil)
        #expect(throws: ModelError.portAllocated("0.0.0.0:8080")) {
            try registry.planStart("a", portInUse: { $0.port == 8080 })
        }
    }

    @Test func embeddedResolvConfIsDockers() {
        let host = ResolvConf(parsing: "# systemd\nnameserver 127.0.0.53\nsearch corp.example\noptions edns0 ndots:3\n")
        #expect(host.nameservers == ["127.0.0.53"])
        #expect(host.ipv4Servers == [IPv4Address(127, 0, 0, 53)])
        let text = ResolvConf.embedded(host: host, settings: nil, upstreams: host.ipv4Servers)
        let parsed = ResolvConf(parsing: text)
        #expect(parsed.nameservers == ["127.0.0.11"])
        #expect(parsed.search == ["corp.example"])
        #expect(parsed.options == ["ndots:0", "edns0"])
        #expect(text.contains("# ExtServers: [host(127.0.0.53)]"))

        var settings = NameSettings()
        settings.servers = [IPv4Address(9, 9, 9, 9)]
        settings.search = ["svc.local"]
        settings.options = ["ndots:2", "timeout:1"]
        let given = ResolvConf(
            parsing: ResolvConf.embedded(host: host, settings: settings, upstreams: settings.servers))
        #expect(given.nameservers == ["127.0.0.11"])
        #expect(given.search == ["svc.local"])
        #expect(given.options == ["ndots:2", "timeout:1"])
    }

    @Test func copiedResolvConfDropsLoopbackServers() {
        let host = ResolvConf(parsing: "nameserver 127.0.0.53\nnameserver 10.1.1.1\n")
        #expect(
            ResolvConf(parsing: ResolvConf.copied(host: host, settings: nil, ownNamespace: true)).nameservers == [
                "10.1.1.1"
            ])
        let loopbackOnly = ResolvConf(parsing: "nameserver 127.0.0.53\n")
        #expect(
            ResolvConf(parsing: ResolvConf.copied(host: loopbackOnly, settings: nil, ownNamespace: true)).nameservers
                == ResolvConf.publicServers)
        #expect(
            ResolvConf(parsing: ResolvConf.copied(host: loopbackOnly, settings: nil, ownNamespace: false)).nameservers
                == ["127.0.0.53"])
    }
}
