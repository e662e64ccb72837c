import Model
import Testing

@Suite struct AddressParsing {
    @Test func dottedQuads() {
        #expect(IPv4Address("10.0.0.254")?.description == "10.0.0.254")
        #expect(IPv4Address("255.255.255.255")?.value == UInt32.max)
        for bad in ["", "10.0.0", "10.0.0.0.1", "256.0.0.1", "01.0.0.1", "1.2.3.-4", " 1.2.3.4", "a.b.c.d", "1..2.3"] {
            #expect(IPv4Address(bad) == nil, "\(bad) should be rejected")
        }
    }

    @Test func cidrs() throws {
        let network = try IPv4Network.parse("10.0.0.0/24")
        #expect(network.contains(IPv4Address("10.0.0.255")!))
        #expect(!network.contains(IPv4Address("10.0.1.0")!))
        #expect(network.hostRange == IPv4Address("10.0.0.1")!.value...IPv4Address("10.0.0.254")!.value)
        #expect(try IPv4Network.parse("0.0.0.0/0").size == 1 << 32)
    }

    @Test(arguments: [
        ("10.0.0.1/24", "host bits are set, it should be 10.0.0.0/24"),
        ("10.0.0.0/33", "the prefix length must be a number from 0 to 32"),
        ("10.0.0.0", "expected an IPv4 network like 10.0.0.0/24"),
        ("10.0.0.0/", "the prefix length must be a number from 0 to 32"),
        ("10.0.0.0/024", "the prefix length must be a number from 0 to 32"),
        ("300.0.0.0/8", "expected an IPv4 network like 10.0.0.0/24"),
    ])
    func badCIDRs(text: String, rule: String) {
        #expect(throws: ModelError.invalidCIDR(text, rule)) { try IPv4Network.parse(text) }
    }

    @Test func overlap() throws {
        let a = try IPv4Network.parse("10.0.0.0/16")
        let b = try IPv4Network.parse("10.0.5.0/24")
        let c = try IPv4Network.parse("10.1.0.0/24")
        #expect(a.overlaps(b) && b.overlaps(a))
        #expect(!a.overlaps(c))
    }

    @Test func macFromIP() {
        #expect(MACAddress(derivedFrom: IPv4Address(172, 17, 0, 2)).description == "02:42:ac:11:00:02")
    }
}

@Suite struct PortSpecParsing {
    @Test func containerPortOnly() throws {
        #expect(try PortRequest.parse("80") == [PortRequest(proto: .tcp, containerPort: 80)])
    }

    @Test func hostAndContainer() throws {
        #expect(
            try PortRequest.parse("5000:80") == [PortRequest(proto: .tcp, containerPort: 80, hostPorts: 5000...5000)])
    }

    @Test func hostIPAndUDP() throws {
        #expect(
            try PortRequest.parse("127.0.0.1:5353:53/udp") == [
                PortRequest(proto: .udp, containerPort: 53, hostIP: .loopback, hostPorts: 5353...5353)
            ])
    }

    @Test func hostIPWithEphemeralPort() throws {
        #expect(
            try PortRequest.parse("10.1.2.3::80") == [
                PortRequest(proto: .tcp, containerPort: 80, hostIP: IPv4Address(10, 1, 2, 3))
            ])
        // Given, 0.0.0.0 stays: the daemon's default host address (`ip`) is for none given.
        #expect(try PortRequest.parse("0.0.0.0:8080:80")[0].hostIP == .v4(.any))
        #expect(try PortRequest.parse("8080:80")[0].hostIP == nil)
    }

    @Test func ranges() throws {
        let pairs = try PortRequest.parse("8000-8002:80-82/tcp")
        #expect(pairs.map(\.containerPort) == [80, 81, 82])
        #expect(pairs.map(\.hostPorts) == [8000...8000, 8001...8001, 8002...8002])
        // A host range for one container port: any free port of the range.
        #expect(
            try PortRequest.parse("8000-8010:80") == [
                PortRequest(proto: .tcp, containerPort: 80, hostPorts: 8000...8010)
            ])
        #expect(try PortRequest.parse("80-81").map(\.hostPorts) == [nil, nil])
    }

    @Test(arguments: [
        "", "abc", "0", "65536", "80/sctp", "1.2.3:80:80", "8000-8001:80-82", "90-80", "[::1:80:80", "a:b:c:d",
        "5000:", "-1",
    ])
    func rejects(spec: String) {
        #expect(throws: ModelError.self) { try PortRequest.parse(spec) }
    }

    @Test func errorNamesTheValue() {
        #expect(throws: ModelError.invalidPortSpec("80/sctp", "protocol \"sctp\" must be tcp or udp")) {
            try PortRequest.parse("80/sctp")
        }
    }

    @Test func conflicts() {
        let any = PortMapping(proto: .tcp, containerPort: 80, hostIP: .any, hostPort: 5000)
        let local = PortMapping(proto: .tcp, containerPort: 81, hostIP: .loopback, hostPort: 5000)
        let udp = PortMapping(proto: .udp, containerPort: 80, hostIP: .any, hostPort: 5000)
        let other = PortMapping(proto: .tcp, containerPort: 80, hostIP: IPv4Address(10, 0, 0, 1), hostPort: 5000)
        #expect(any.conflicts(with: local))
        #expect(!udp.conflicts(with: any))
        #expect(!local.conflicts(with: other))
        #expect(any.description == "80/tcp -> 0.0.0.0:5000")
    }
}

@Suite struct Names {
    @Test func valid() throws {
        for name in ["c1", "my_bridge", "a", "web.1", "A-b_c.d"] { try validateName(name, what: "container") }
    }

    @Test(arguments: ["", "_x", "-x", ".x", "a b", "a/b", "ä", String(repeating: "a", count: 65)])
    func invalid(name: String) {
        #expect(throws: ModelError.self) { try validateName(name, what: "network") }
    }

    @Test func hostnames() throws {
        try validateHostname("c1")
        try validateHostname("web-1.example")
        #expect(throws: ModelError.self) { try validateHostname("-bad") }
        #expect(throws: ModelError.self) { try validateHostname("a..b") }
    }
}

@Suite struct GoDurationTests {
    @Test func readsWhatGoReads() throws {
        #expect(try GoDuration.seconds("2s") == 2)
        #expect(try GoDuration.seconds("5m") == 300)
        #expect(try GoDuration.seconds("120h") == 432_000)
        #expect(try GoDuration.seconds("1h30m10s") == 5410)
        #expect(try GoDuration.seconds("1.5h") == 5400)
        #expect(abs(try GoDuration.seconds("300ms") - 0.3) < 1e-9)
        #expect(try GoDuration.seconds("0") == 0)
        #expect(try GoDuration.seconds("-2s") == -2)
        for bad in ["", "2", "s", "2x", "1.2.3s", "2s3", "5 m"] {
            #expect(throws: ModelError.self, "\(bad)") { try GoDuration.seconds(bad) }
        }
    }
}
