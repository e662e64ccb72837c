import Foundation
import Model
import Testing

@testable import Daemon

/// What the cluster store holds of an overlay container, in both families.
@Suite struct ClusterEndpointEncodingTests {
    let networkID = String(repeating: "1f", count: 32)

    func endpoint(ip6: String?) -> ClusterEndpoint {
        var endpoint = ClusterEndpoint(
            networkID: networkID, ip: IPv4Address(10, 0, 9, 2), mac: MACAddress(derivedFrom: IPv4Address(10, 0, 9, 2)),
            containerID: String(repeating: "ab", count: 32), containerName: "api", host: IPv4Address(198, 19, 2, 1),
            aliases: ["web"])
        endpoint.ip6 = ip6.flatMap(IPv6Address.init)
        return endpoint
    }

    /// A record an agent before IPv6 overlays wrote, read as an IPv4-only endpoint.
    @Test func recordsWithIPv4OnlyReadBack() throws {
        let old = """
            {"networkID":"\(networkID)","ip":"10.0.9.2","mac":"02:42:0a:00:09:02",\
            "containerID":"\(String(repeating: "ab", count: 32))","containerName":"api","host":"198.19.2.1"}
            """
        let read = try ModelJSON.decoder.decode(ClusterEndpoint.self, from: Data(old.utf8))
        #expect(read.ip == IPv4Address(10, 0, 9, 2) && read.ip6 == nil && read.aliases == nil)
        #expect(read.mac == MACAddress(derivedFrom: IPv4Address(10, 0, 9, 2)))
    }

    @Test func bothFamiliesRoundTrip() throws {
        let written = endpoint(ip6: "fd00:9::2")
        let data = try ModelJSON.encoder.encode(written)
        #expect(String(decoding: data, as: UTF8.self).contains(#""ip6":"fd00:9::2""#))
        #expect(try ModelJSON.decoder.decode(ClusterEndpoint.self, from: data) == written)
    }

    /// One key per family, each with the whole record; the IPv6 one outside endpoints/.
    @Test func keysOfEachFamily() throws {
        let v4 = try ClusterStore.keys(of: endpoint(ip6: nil))
        #expect(v4.map(\.key) == ["/bridgeport/endpoints/\(networkID)/10.0.9.2"])
        let both = try ClusterStore.keys(of: endpoint(ip6: "fd00:9::2"))
        #expect(
            both.map(\.key) == [
                "/bridgeport/endpoints/\(networkID)/10.0.9.2", "/bridgeport/endpoints6/\(networkID)/fd00:9::2",
            ])
        #expect(!both[1].key.hasPrefix(ClusterStore.endpoints), "agents that follow endpoints/ see one record")
        for (_, value) in both {
            #expect(try ModelJSON.decoder.decode(ClusterEndpoint.self, from: value) == endpoint(ip6: "fd00:9::2"))
        }
    }

    /// Other hosts' containers resolve by AAAA on an overlay with IPv6, not on one without.
    @Test func remoteIPv6AddressesResolve() throws {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        var registry = Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
        for (name, v6) in [("six", true), ("four", false)] {
            var request = NetworkRequest(
                name: name, driver: "overlay", subnet: name == "six" ? "10.0.9.0/24" : "10.0.8.0/24")
            if v6 { (request.ipv6, request.subnet6) = (true, "fd00:9::/64") }
            registry.networks.append(
                try registry.planNetwork(
                    request, id: randomID(), now: now, hostPrefixes: [], vni: name == "six" ? 4097 : 4098))
        }
        var asker: [String: Container] = [:]
        for name in ["six", "four"] {
            let (container, endpoints) = try registry.planContainer(
                ContainerRequest(name: "here-" + name, network: name), id: randomID(), now: now)
            registry.containers.append(container)
            registry.endpoints += endpoints
            asker[name] = container
        }
        var far = endpoint(ip6: "fd00:9::99")
        far.networkID = try registry.network("six").id
        var farOnFour = endpoint(ip6: "fd00:9::98")
        (farOnFour.networkID, farOnFour.containerName, farOnFour.ip) = (
            try registry.network("four").id, "other", IPv4Address(10, 0, 8, 9)
        )
        let table = NameTable(registry: registry, remote: [far, farOnFour], upstreams: { _ in [] })
        #expect(table.lookup6("api", asker: asker["six"]!.id) == [IPv6Address("fd00:9::99")!])
        #expect(table.lookup6("web", asker: asker["six"]!.id) == [IPv6Address("fd00:9::99")!])
        #expect(table.lookup("api", asker: asker["six"]!.id) == [IPv4Address(10, 0, 9, 2)])
        #expect(table.lookup6("other", asker: asker["four"]!.id) == [])
        #expect(table.lookup("other", asker: asker["four"]!.id) == [IPv4Address(10, 0, 8, 9)])
    }
}
