import Foundation
import Testing

@testable import Model

@Suite struct IPv6Rules {
    @Test func textForms() throws {
        #expect(IPv6Address("fd00::1")?.value == (UInt128(0xfd00) << 112) | 1)
        #expect(IPv6Address("FD00:0:0:0:0:0:0:1")?.description == "fd00::1")
        #expect(IPv6Address("2001:db8:0:0:1:0:0:1")?.description == "2001:db8::1:0:0:1")  // RFC 5952 4.2.3
        #expect(IPv6Address("::ffff:10.0.0.1")?.description == "::ffff:10.0.0.1")
        for bad in ["", "fd00", "fd00:::1", "[fd00::1]", "fd00::1/64", "fd00::g", "1:2:3:4:5:6:7:8:9"] {
            #expect(IPv6Address(bad) == nil, "\(bad)")
        }
        #expect(IPv6Address("fe80::1")!.isLinkLocal && !IPv6Address("fec0::1")!.isLinkLocal)
        #expect(IPv6Address("ff02::1")!.isMulticast)
    }

    /// Any address printed and read back is the same address.
    @Test func printedAddressesReadBack() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            // Zero groups are likely, so that "::" is exercised in every position.
            let groups = (0..<8).map { _ in
                Bool.random(using: &generator) ? 0 : UInt16.random(in: 0...0xffff, using: &generator)
            }
            let address = IPv6Address(groups.reduce(UInt128(0)) { $0 << 16 | UInt128($1) })
            #expect(IPv6Address(address.description) == address, "\(address)")
            #expect(IPv6Address(bytes: address.bytes) == address)
        }
    }

    @Test func networks() throws {
        let network = try IPv6Network.parse("fd00:1::/64")
        #expect(network.contains(IPv6Address("fd00:1::ffff")!) && !network.contains(IPv6Address("fd00:2::1")!))
        #expect(network.last.description == "fd00:1::ffff:ffff:ffff:ffff")
        #expect(network.overlaps(try IPv6Network.parse("fd00::/16")))
        #expect(throws: ModelError.invalidCIDR("fd00:1::1/64", "host bits are set, it should be fd00:1::/64")) {
            try IPv6Network.parse("fd00:1::1/64")
        }
        #expect(throws: ModelError.self) { try IPv6Network.parse("fd00::/129") }
        #expect(throws: ModelError.self) { try IPv6Network.parse("10.0.0.0/8") }
    }

    @Test func linkLocalFromMAC() {
        #expect(
            IPv6Address.linkLocal(mac: MACAddress("02:42:0a:00:00:05")!).description == "fe80::42:aff:fe00:5")
    }

    /// Flows' addresses of either family travel as their text: an IPv4 one as before.
    @Test func eitherFamily() throws {
        let v4 = try #require(try? IPAddress(parsing: "198.51.100.1"))
        let v6 = try #require(try? IPAddress(parsing: "fd00:5100::1"))
        #expect(v4 == .v4(IPv4Address(198, 51, 100, 1)))
        #expect(v6 == .v6(IPv6Address("fd00:5100::1")!))
        #expect(v4.with(port: 80) == "198.51.100.1:80" && v6.with(port: 80) == "[fd00:5100::1]:80")
        #expect(v4 < v6 && !(v6 < v4))
        #expect((try? IPAddress(parsing: "fd00::g")) == nil)
        let json = try JSONEncoder().encode([v4, v6])
        #expect(String(decoding: json, as: UTF8.self) == #"["198.51.100.1","fd00:5100::1"]"#)
        #expect(try JSONDecoder().decode([IPAddress].self, from: json) == [v4, v6])
    }
}
