import Model
import Testing

@testable import DNS

private func label(_ length: Int, _ character: Character = "a") -> String {
    String(repeating: character, count: length)
}

@Suite struct Names {
    @Test func textForms() throws {
        let name = try #require(DNSName("Web.MyNet."))
        #expect(name.labels == ["Web", "MyNet"])
        #expect(name.description == "Web.MyNet.")
        #expect(name.key == "web.mynet")
        #expect(DNSName("Web.MyNet") == name)
        #expect(DNSName("web.mynet") != name, "== compares as written; key ignores case")
        #expect(DNSName(labels: ["Web", "MyNet"]) == name)
        for root in ["", "."] {
            let parsed = try #require(DNSName(root))
            #expect(parsed.labels.isEmpty && parsed.isRoot && parsed == .root)
            #expect(parsed.description == "." && parsed.key == "")
        }
        // Only ASCII folds (RFC 4343): "É" stays.
        #expect(DNSName("ÉCOLE.Fr")?.key == "École.fr")
    }

    @Test func emptyLabelsAreRefused() {
        for text in ["a..b", ".a", "a..", "..", ".a.", " .."] { #expect(DNSName(text) == nil, "\(text)") }
        #expect(DNSName(labels: [""]) == nil)
        #expect(DNSName(labels: ["a", ""]) == nil)
        #expect(DNSName(labels: [])?.isRoot == true)
    }

    @Test func labelLengths() {
        #expect(DNSName(label(63) + ".b")?.labels.first?.utf8.count == 63)
        #expect(DNSName(label(64) + ".b") == nil)
        #expect(DNSName(labels: [label(64)]) == nil)
        // Bytes, not characters: 32 two-byte "é" are 64 bytes.
        #expect(DNSName(label(32, "é")) == nil)
        #expect(DNSName(label(31, "é")) != nil)
    }

    @Test func nameLengths() throws {
        // 63+1+63+1+63+1+61 = 253 characters: 255 bytes on the wire, the most there can be.
        let longest = [label(63), label(63), label(63), label(61)].joined(separator: ".")
        #expect(longest.count == 253)
        let name = try #require(DNSName(longest))
        #expect(name.wireLength == 255)
        #expect(DNSName(longest + ".") == name)
        #expect(DNSName(longest + "a") == nil, "254 characters")
        #expect(DNSName(labels: [label(63), label(63), label(63), label(62)]) == nil)
        #expect(DNSName(Array(repeating: "a", count: 127).joined(separator: "."))?.labels.count == 127)
        #expect(DNSName(Array(repeating: "a", count: 128).joined(separator: ".")) == nil)
    }

    @Test func dotsInsideLabelsAreEscapedInKeys() throws {
        // Possible on the wire: a single label "web.mynet" is another name than web.mynet.
        let dotted = try #require(DNSName(labels: ["web.MyNet"]))
        #expect(dotted.key == "web\\.mynet" && dotted.description == "web\\.MyNet.")
        #expect(dotted.key != DNSName("web.mynet")?.key)
        #expect(DNSName(labels: ["a\\b"])?.key == "a\\\\b")
    }

    @Test func suffixes() throws {
        let name = try #require(DNSName("web.Front.Net"))
        #expect(name.dropLast(1) == DNSName("web.Front"))
        #expect(name.dropLast(3).isRoot && name.dropLast(9).isRoot && name.dropLast(0) == name)
        #expect(name.hasSuffix(try #require(DNSName("front.NET"))))
        #expect(name.hasSuffix(.root) && name.hasSuffix(name))
        #expect(!name.hasSuffix(try #require(DNSName("ront.net"))), "whole labels only")
        #expect(!name.hasSuffix(try #require(DNSName("x.web.front.net"))))
        #expect(!DNSName.root.hasSuffix(try #require(DNSName("net"))))
    }

    /// Model's rule for hostnames and --network-alias: every name it accepts is a DNS name.
    func isHostName(_ text: String) -> Bool { (try? validateHostname(text)) != nil }

    @Test func hostNames() {
        for valid in [
            "web", "my_service-1", "a.b", "_srv", "1", "0abc", "Web.MyNet", label(63), label(63) + ".b",
            [label(63), label(63), label(63), label(61)].joined(separator: "."),
        ] {
            #expect(isHostName(valid), "\(valid)")
        }
        for invalid in [
            "-x", "x-", "a.-b", "a.b-", "a..b", "", ".", "a.", ".a", "has space", "ünï", "a/b", "a:b", "a\u{0}",
            label(64), [label(63), label(63), label(63), label(62)].joined(separator: "."),
        ] {
            #expect(!isHostName(invalid), "\(invalid)")
        }
    }

    @Test func reverseNames() throws {
        let name = DNSName.reverse(ipv4: (172, 17, 0, 4))
        #expect(name.description == "4.0.17.172.in-addr.arpa.")
        let octets = try #require(name.reversedIPv4)
        #expect(octets == (172, 17, 0, 4))
        #expect(DNSName.reverse(ipv4: (0, 0, 0, 0)).description == "0.0.0.0.in-addr.arpa.")
        #expect(try #require(DNSName("255.255.255.255.In-Addr.ARPA.")?.reversedIPv4) == (255, 255, 255, 255))
    }

    /// Leading zeros are refused: "01.2.3.4.in-addr.arpa" is a name of its own, not 4.3.2.1's PTR name,
    /// and the server forwards it like any other.
    @Test(arguments: [
        "1.2.3.in-addr.arpa", "1.1.1.1.1.in-addr.arpa", "256.1.1.1.in-addr.arpa", "01.2.3.4.in-addr.arpa",
        "00.2.3.4.in-addr.arpa", "a.1.1.1.in-addr.arpa", "+1.1.1.1.in-addr.arpa", "-1.1.1.1.in-addr.arpa",
        "1000.1.1.1.in-addr.arpa", "1.1.1.1.in-addr.arpa.com", "1.1.1.1.ip6.arpa", "1.1.1.1.in-addr", "1.1.1.1",
        "1 .1.1.1.in-addr.arpa", "١.1.1.1.in-addr.arpa",
    ])
    func reverseNamesRefused(_ text: String) throws {
        #expect(try #require(DNSName(text)).reversedIPv4 == nil)
    }
}
