import Foundation
import Testing

@testable import Model

/// Published ports over IPv6, as Docker 27 publishes them: `-p` without a host address on a
/// dual-stack container binds both families at one host port; bracketed addresses bind IPv6.
@Suite struct PortsIPv6Rules {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    /// A registry with a dual-stack network "six" and an IPv4-only one "four".
    func fresh() throws -> Registry {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
        var six = NetworkRequest(name: "six", subnet: "10.66.0.0/24")
        six.ipv6 = true
        six.subnet6 = "fd00:66::/64"
        for request in [six, NetworkRequest(name: "four", subnet: "10.44.0.0/24")] {
            registry.networks.append(try registry.planNetwork(request, id: randomID(), now: now, hostPrefixes: []))
        }
        return registry
    }

    @discardableResult
    func run(
        _ registry: inout Registry, _ name: String, network: String, _ ports: [String],
        portInUse: (HostPort) -> Bool = { _ in false }
    ) throws -> Container {
        let (container, endpoints) = try registry.planContainer(
            ContainerRequest(name: name, network: network, ports: ports), id: randomID(), now: now,
            portInUse: portInUse)
        registry.containers.append(container)
        registry.endpoints += endpoints
        return container
    }

    // MARK: Parsing

    @Test func bracketedAndBareIPv6HostAddresses() throws {
        let any6 = try PortRequest.parse("[::]:8080:80")
        #expect(any6 == [PortRequest(proto: .tcp, containerPort: 80, hostIP: .v6(.any), hostPorts: 8080...8080)])
        #expect(try PortRequest.parse("[2001:db8::1]::80/udp")[0].hostIP == .v6(IPv6Address("2001:db8::1")!))
        #expect(try PortRequest.parse("[2001:db8::1]::80/udp")[0].hostPorts == nil)
        #expect(try PortRequest.parse("[::1]:8000-8001:80-81").map(\.hostPorts) == [8000...8000, 8001...8001])
        // go-connections splits every field before the last two off as the address.
        #expect(try PortRequest.parse("::1:8080:80")[0].hostIP == .v6(.loopback))
        #expect(try PortRequest.parse("[10.0.0.1]:8080:80")[0].hostIP == .v4(IPv4Address(10, 0, 0, 1)))
        #expect(try PortRequest.parse("[::ffff:10.0.0.1]:8080:80")[0].hostIP == .v4(IPv4Address(10, 0, 0, 1)))
        #expect(try PortRequest.parse("[]:8080:80")[0].hostIP == nil)
        #expect(try PortRequest.parse("0.0.0.0:8080:80")[0].hostIP == .v4(.any))
    }

    @Test(arguments: [
        ("[2001:db8::zz]:8080:80", "invalid IP address: 2001:db8::zz"),
        ("[::1:8080:80", "invalid IP address [::1: address [::1:: missing ']' in address"),
        ("[::1]x:8080:80", "invalid IP address [::1]x: address [::1]x:: missing port in address"),
        ("[fe80::1%eth0]:8080:80", "invalid IP address: fe80::1%eth0"),
        ("1.2.3:80:80", "invalid IP address: 1.2.3"),
    ])
    func badAddressesAreRefusedInDockersWords(spec: String, message: String) {
        #expect(throws: ModelError.self) { try PortRequest.parse(spec) }
        do {
            _ = try PortRequest.parse(spec)
        } catch {
            #expect(error.description == message)
        }
    }

    // MARK: Conflicts

    @Test func conflictsArePerFamily() {
        func mapping(_ ip: IPAddress, _ port: UInt16 = 8080, _ proto: PortProtocol = .tcp) -> PortMapping {
            PortMapping(proto: proto, containerPort: 80, hostIP: ip, hostPort: port)
        }
        let any4 = mapping(.v4(.any))
        let any6 = mapping(.v6(.any))
        let one6 = mapping(.v6(IPv6Address("2001:db8::1")!))
        let loopback6 = mapping(.v6(.loopback))
        #expect(!any4.conflicts(with: any6) && !any6.conflicts(with: any4), "two families, two sockets")
        #expect(any6.conflicts(with: any6) && any6.conflicts(with: one6) && one6.conflicts(with: any6))
        #expect(!one6.conflicts(with: loopback6))
        #expect(
            !any6.conflicts(with: mapping(.v6(.any), 8081)) && !any6.conflicts(with: mapping(.v6(.any), 8080, .udp)))
        #expect(!mapping(.v4(IPv4Address(10, 0, 0, 1))).conflicts(with: one6))
    }

    // MARK: Allocation

    @Test func dualStackContainerPublishesBothFamiliesAtOnePort() throws {
        var registry = try fresh()
        let web = try run(&registry, "web", network: "six", ["8080:80", "53/udp"])
        #expect(
            web.ports.map(\.description) == [
                "80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080",
                "53/udp -> 0.0.0.0:\(ephemeralPorts.lowerBound)", "53/udp -> [::]:\(ephemeralPorts.lowerBound)",
            ])
        // An IPv4-only container stays IPv4 only: nothing would carry IPv6 to it.
        let old = try run(&registry, "old", network: "four", ["9090:90"])
        #expect(old.ports.map(\.description) == ["90/tcp -> 0.0.0.0:9090"])
    }

    @Test func randomPortIsFreeInBothFamilies() throws {
        var registry = try fresh()
        let first = ephemeralPorts.lowerBound
        // The first ephemeral port is held on IPv6 only (by a host socket), the second on IPv4.
        let held: (HostPort) -> Bool = {
            ($0.port == first && $0.ip.family == .ipv6) || ($0.port == first + 1 && $0.ip.family == .ipv4)
        }
        let web = try run(&registry, "web", network: "six", ["80"], portInUse: held)
        #expect(web.ports.map(\.hostPort) == [first + 2, first + 2])
        // On an IPv4-only container the first port is free: its IPv6 side is no concern.
        let old = try run(&registry, "old", network: "four", ["80"], portInUse: held)
        #expect(old.ports.map(\.hostPort) == [first])
    }

    @Test func familiesConflictOnTheirOwn() throws {
        var registry = try fresh()
        try run(&registry, "v6", network: "six", ["[::]:8080:80"])
        #expect(registry.containers[0].ports.map(\.description) == ["80/tcp -> [::]:8080"])
        // Both families need the port: its IPv6 side is taken.
        #expect(throws: ModelError.portAllocated("[::]:8080")) {
            try registry.planContainer(
                ContainerRequest(name: "x", network: "six", ports: ["8080:80"]), id: randomID(), now: now)
        }
        // 0.0.0.0:8080 is another family's socket: free.
        let v4 = try run(&registry, "v4", network: "six", ["0.0.0.0:8080:80"])
        #expect(v4.ports.map(\.description) == ["80/tcp -> 0.0.0.0:8080"])
        #expect(throws: ModelError.portAllocated("[2001:db8::1]:8080")) {
            try registry.planContainer(
                ContainerRequest(name: "x", network: "six", ports: ["[2001:db8::1]:8080:80"]), id: randomID(), now: now)
        }
        #expect(throws: ModelError.portsExhausted("[::1]:8080-8081/tcp")) {
            try registry.allocatePorts(
                [PortRequest(proto: .tcp, containerPort: 80, hostIP: .v6(.loopback), hostPorts: 8080...8081)],
                ipv6: true, portInUse: { _ in true })
        }
    }

    @Test func ipv6AddressOnAnIPv4OnlyContainerIsRefused() throws {
        var registry = try fresh()
        #expect(throws: ModelError.noIPv6ForBinding("80/tcp on ::1")) {
            try run(&registry, "old", network: "four", ["[::1]:8080:80"])
        }
        #expect(registry.containers.isEmpty)
    }

    @Test func daemonDefaultAddress() throws {
        var registry = try fresh()
        registry.defaults.hostIP = .v6(IPv6Address("2001:db8::7")!)
        let web = try run(&registry, "web", network: "six", ["8080:80"])
        #expect(web.ports.map(\.description) == ["80/tcp -> [2001:db8::7]:8080"])
        // Without IPv6 nothing is published at an IPv6 default, as Docker without its proxy.
        #expect(try run(&registry, "old", network: "four", ["8081:80"]).ports.isEmpty)
        registry.defaults.hostIP = .v6(.any)
        let both = try run(&registry, "both", network: "six", ["8082:80"])
        #expect(both.ports.map(\.hostIP) == [.v4(.any), .v6(.any)])
    }

    // MARK: Output

    @Test func summaryListsIPv4ThenIPv6() {
        let mappings = [
            PortMapping(proto: .tcp, containerPort: 80, hostIP: .v6(.any), hostPort: 8080),
            PortMapping(proto: .tcp, containerPort: 81, hostIP: .v6(.any), hostPort: 8081),
            PortMapping(proto: .tcp, containerPort: 80, hostIP: .v4(.any), hostPort: 8080),
            PortMapping(proto: .udp, containerPort: 53, hostIP: .v6(.loopback), hostPort: 5353),
        ]
        #expect(
            PortMapping.summary(mappings)
                == "0.0.0.0:8080->80/tcp, [::]:8080-8081->80-81/tcp, [::1]:5353->53/udp")
        #expect(mappings[0].short == "[::]:8080->80/tcp" && mappings[0].description == "80/tcp -> [::]:8080")
        #expect(mappings[0].hostSide.description == "[::]:8080")
    }

    @Test func storedMappingsStillDecode() throws {
        let stored = #"{"containerPort":80,"hostIP":"0.0.0.0","hostPort":8080,"proto":"tcp"}"#
        let mapping = try ModelJSON.decoder.decode(PortMapping.self, from: Data(stored.utf8))
        #expect(mapping == PortMapping(proto: .tcp, containerPort: 80, hostIP: .v4(.any), hostPort: 8080))
        #expect(String(decoding: try ModelJSON.encoder.encode(mapping), as: UTF8.self) == stored)
        let v6 = PortMapping(proto: .udp, containerPort: 53, hostIP: .v6(.any), hostPort: 53)
        #expect(try ModelJSON.decoder.decode(PortMapping.self, from: ModelJSON.encoder.encode(v6)) == v6)
        let sources = #"{"5000/tcp":["10.0.0.0/8"]}"#
        let allowed = try ModelJSON.decoder.decode([String: [IPNetwork]].self, from: Data(sources.utf8))
        #expect(allowed["5000/tcp"] == [.v4(IPv4Network(containing: IPv4Address(10, 0, 0, 0), prefixLength: 8))])
    }

    // MARK: Allow lists

    @Test func allowListsTakeTheSourcesOfTheFamiliesPublished() throws {
        var registry = try fresh()
        try run(&registry, "web", network: "six", ["8080:80"])
        try run(&registry, "old", network: "four", ["9090:90"])
        let web = try registry.planAllow(
            container: "web", hostPort: "8080", sources: ["2001:db8::/64", "198.18.0.0/15", "fd00::5"], clear: false)
        let v4 = web.ports.first { $0.hostIP.family == .ipv4 }!
        let v6 = web.ports.first { $0.hostIP.family == .ipv6 }!
        #expect(web.allowed(v4)?.map(\.description) == ["198.18.0.0/15"])
        #expect(web.allowed(v6)?.map(\.description) == ["2001:db8::/64", "fd00::5/128"])
        // A v6 source for a port published on IPv4 only is refused by name.
        #expect(throws: ModelError.self) {
            try registry.planAllow(container: "old", hostPort: "9090", sources: ["2001:db8::/64"], clear: false)
        }
        do {
            _ = try registry.planAllow(container: "old", hostPort: "9090", sources: ["2001:db8::/64"], clear: false)
        } catch {
            #expect(error.description.contains("published on IPv4 only, not on IPv6"))
        }
        #expect(throws: ModelError.self) {
            try registry.planAllow(container: "web", hostPort: "8080", sources: ["2001:db8::1/64"], clear: false)
        }
        // Restricted to IPv4 sources only, the port lets no IPv6 source in.
        let only4 = try registry.planAllow(container: "web", hostPort: "8080", sources: ["10.0.0.0/8"], clear: false)
        #expect(only4.allowed(v6) == [] && only4.allowed(v4)?.count == 1)
    }
}
