import API
import Foundation
import Testing

@testable import bridgeport_cni

/// The plugin's replies keep the CNI specification's field names, and its configuration
/// errors their codes.
@Suite struct CNITests {
    static func json(_ reply: some Encodable) throws -> String {
        String(decoding: try BridgeportCNI.encoder.encode(reply), as: UTF8.self)
    }

    /// A result of the reference bridge plugin, as containerd hands it on.
    static let bridgeResult = #"""
        {"cniVersion":"1.0.0","dns":{},"interfaces":[{"mac":"aa:bb:cc:dd:ee:01","name":"cni0"},\#
        {"mac":"aa:bb:cc:dd:ee:02","name":"veth1234"},\#
        {"mac":"aa:bb:cc:dd:ee:03","name":"eth0","sandbox":"/var/run/netns/c1"}],\#
        "ips":[{"address":"10.88.0.5/16","gateway":"10.88.0.1","interface":2}],\#
        "routes":[{"dst":"0.0.0.0/0"}]}
        """#

    static func configuration(_ fields: String) throws(CNIError) -> CNIConfiguration {
        try CNIConfiguration(Data(#"{"cniVersion":"1.0.0","name":"net1","type":"bridgeport-cni"\#(fields)}"#.utf8))
    }

    @Test func errorAndVersionReplies() throws {
        #expect(
            try Self.json(CNIError.invalidConfiguration("no").reply(cniVersion: "1.0.0"))
                == #"{"cniVersion":"1.0.0","code":7,"msg":"no"}"#)
        #expect(
            try Self.json(CNIVersionReply(cniVersion: "1.1.0", supportedVersions: ["1.0.0", "1.1.0"]))
                == #"{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}"#)
    }

    @Test func mainResultHasTheSpecificationsFields() throws {
        let result = CNIResult(
            cniVersion: "1.0.0",
            interfaces: [
                .init(name: "bp0"), .init(name: "veth1"),
                .init(name: "eth0", mac: "02:42:0a:00:00:02", sandbox: "/run/netns/x"),
            ],
            ips: [.init(address: "10.0.0.2/24", gateway: "10.0.0.1", interface: 2)],
            routes: [.init(dst: "0.0.0.0/0", gw: "10.0.0.1")])
        let object = try JSONSerialization.jsonObject(with: BridgeportCNI.encoder.encode(result)) as? NSDictionary
        let expected: NSDictionary = [
            "cniVersion": "1.0.0",
            "interfaces": [
                ["name": "bp0"], ["name": "veth1"],
                ["name": "eth0", "mac": "02:42:0a:00:00:02", "sandbox": "/run/netns/x"],
            ],
            "ips": [["address": "10.0.0.2/24", "gateway": "10.0.0.1", "interface": 2]],
            "routes": [["dst": "0.0.0.0/0", "gw": "10.0.0.1"]],
        ]
        #expect(object == expected)
    }

    @Test func chainedResultIsReadAndHandedOnUnchanged() throws {
        let configuration = try Self.configuration(#","prevResult":\#(Self.bridgeResult)"#)
        let chained = try ChainedInterface(prevResult: #require(configuration.prevResult), interface: "eth0")
        #expect(chained.hostInterface == "veth1234")
        #expect(chained.ip == "10.88.0.5")
        #expect(chained.mac == "aa:bb:cc:dd:ee:03")
        #expect(chained.subnet == "10.88.0.0/16")
        let given = try JSONDecoder().decode(JSONValue.self, from: Data(Self.bridgeResult.utf8))
        #expect(configuration.prevResultAsGiven == given)
        // Slashes escaped, as JSONSerialization wrote them before.
        #expect(
            try Self.json(given)
                == Self.bridgeResult.replacingOccurrences(of: "\n", with: "").replacingOccurrences(of: "/", with: "\\/")
        )
    }

    @Test func configurationErrorsKeepTheirCodes() {
        func code(_ text: String) -> Int? {
            do {
                _ = try CNIConfiguration(Data(text.utf8))
                return nil
            } catch { return error.code }
        }
        #expect(code(#"{"cniVersion": "#) == 6)
        #expect(code(#"{"name":"n"}"#) == 6)
        #expect(code(#"{"cniVersion":"9.9.9","name":"n"}"#) == 1)
        #expect(code(#"{"cniVersion":"1.0.0"}"#) == 7)
    }

    /// DEL, GC and STATUS read neither prevResult nor runtimeConfig: an odd one of those
    /// must not fail them (DEL must succeed whatever it can); ADD still refuses it.
    @Test func delToleratesWhatItDoesNotRead() throws {
        let text =
            #"{"cniVersion":"1.0.0","name":"n","prevResult":{"ips":"odd"},"runtimeConfig":{"portMappings":[{"hostPort":"80"}]}}"#
        #expect(throws: CNIError.self) { try CNIConfiguration(Data(text.utf8)) }
        let tolerant = try CNIConfiguration(Data(text.utf8), tolerant: true)
        #expect(tolerant.name == "n" && tolerant.prevResult == nil && tolerant.portMappings.isEmpty)
    }

    @Test func portMappingsAndValidAttachments() throws {
        let configuration = try Self.configuration(
            #"""
            ,"runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"TCP","hostIP":""}]},\#
            "cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"},{"containerID":"c2"}]
            """#)
        let mappings = try BridgeportCNI.portMappings(configuration.portMappings, ipv6: false)
        #expect(mappings.map(\.description) == ["80/tcp -> 0.0.0.0:8080"])
        #expect(configuration.validAttachments == ["c1/eth0"])
        #expect(throws: CNIError.self) {
            try BridgeportCNI.portMappings([.init(hostPort: 0, containerPort: 80)], ipv6: false)
        }
    }

    /// An empty hostIP is both families' on a container with IPv6 (the portmap plugin's);
    /// an IPv6 hostIP is an IPv6 binding; a bad one is refused.
    @Test func portMappingsOverIPv6() throws {
        let any = CNIConfiguration.PortMappingEntry(hostPort: 8080, containerPort: 80, protocol: "udp", hostIP: "")
        #expect(
            try BridgeportCNI.portMappings([any], ipv6: true).map(\.description) == [
                "80/udp -> 0.0.0.0:8080", "80/udp -> [::]:8080",
            ])
        let v6 = CNIConfiguration.PortMappingEntry(hostPort: 8080, containerPort: 80, hostIP: "2001:db8::1")
        #expect(try BridgeportCNI.portMappings([v6], ipv6: true).map(\.description) == ["80/tcp -> [2001:db8::1]:8080"])
        #expect(throws: CNIError.self) {
            try BridgeportCNI.portMappings(
                [.init(hostPort: 8080, containerPort: 80, hostIP: "2001:db8::zz")], ipv6: true)
        }
    }

    /// The previous plugin's IPv6 address of the interface is where its IPv6 bindings lead.
    @Test func chainedInterfaceIPv6() throws {
        let result = CNIResult(
            interfaces: [
                .init(name: "cni0"), .init(name: "veth1"), .init(name: "eth0", mac: "02:42:0a:58:00:02", sandbox: "/x"),
            ],
            ips: [
                .init(address: "10.88.0.2/16", gateway: "10.88.0.1", interface: 2),
                .init(address: "fd00:88::2/64", gateway: "fd00:88::1", interface: 2),
            ])
        let chained = try ChainedInterface(prevResult: result, interface: "eth0")
        #expect(chained.ip == "10.88.0.2" && chained.ip6 == "fd00:88::2")
    }
}
