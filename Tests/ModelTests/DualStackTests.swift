import Foundation
import Testing

@testable import Model

/// `network create --ipv6`, `--ip6`: dual-stack networks as Docker 27 makes them.
@Suite struct DualStackRules {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func fresh() throws -> Registry {
        Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
    }

    func create(_ registry: inout Registry, _ request: NetworkRequest) throws -> Network {
        let network = try registry.planNetwork(request, id: randomID(), now: now, hostPrefixes: [])
        registry.networks.append(network)
        return network
    }

    func v6(_ name: String, subnet: String? = nil, gateway: String? = nil, range: String? = nil) -> NetworkRequest {
        var request = NetworkRequest(name: name, subnet: "10.\(name.unicodeScalars.first!.value).0.0/24")
        request.ipv6 = true
        (request.subnet6, request.gateway6, request.ipRange6) = (subnet, gateway, range)
        return request
    }

    @Test func subnetGatewayAndAddresses() throws {
        var registry = try fresh()
        let network = try create(&registry, v6("six", subnet: "fd00:6::/64"))
        #expect(network.ipv6?.subnet.description == "fd00:6::/64" && network.ipv6?.gateway.description == "fd00:6::1")
        var request = ContainerRequest(name: "a", network: "six")
        let (a, first) = try registry.planContainer(request, id: randomID(), now: now)
        registry.containers.append(a)
        registry.endpoints += first
        #expect(first.first?.ip6?.description == "fd00:6::2")
        request.name = "b"
        request.ip6 = "fd00:6::99"
        let (_, second) = try registry.planContainer(request, id: randomID(), now: now)
        #expect(second.first?.ip6?.description == "fd00:6::99")
        request.ip6 = "fd00:6::2"
        #expect(throws: ModelError.addressInUse6(IPv6Address("fd00:6::2")!, network: "six")) {
            try registry.planContainer(request, id: randomID(), now: now)
        }
        request.ip6 = "fd00:7::2"
        #expect(throws: ModelError.addressOutsideSubnet6(IPv6Address("fd00:7::2")!, network.ipv6!.subnet)) {
            try registry.planContainer(request, id: randomID(), now: now)
        }
        request.ip6 = "fd00:6::1"
        #expect(throws: ModelError.addressInUse6(IPv6Address("fd00:6::1")!, network: "six")) {
            try registry.planContainer(request, id: randomID(), now: now)
        }
        // An IPv4-only network has no IPv6 address to give.
        request = ContainerRequest(name: "c")
        request.ip6 = "fd00:6::5"
        #expect(throws: ModelError.self) { try registry.planContainer(request, id: randomID(), now: now) }
        let (_, v4only) = try registry.planContainer(ContainerRequest(name: "d"), id: randomID(), now: now)
        #expect(v4only.first?.ip6 == nil)
    }

    @Test func uniqueLocalSubnetsWhenNoneIsGiven() throws {
        var registry = try fresh()
        var seen: [IPv6Network] = []
        for name in ["a", "b", "c", "d"] {
            let subnet = try #require(try create(&registry, v6(name)).ipv6?.subnet)
            #expect(subnet.prefixLength == 64 && subnet.address.value >> 120 == 0xfd)
            #expect(!seen.contains { $0.overlaps(subnet) })
            seen.append(subnet)
        }
    }

    @Test func refusals() throws {
        var registry = try fresh()
        _ = try create(&registry, v6("first", subnet: "fd00:1::/64"))
        #expect(throws: ModelError.poolOverlap6(try IPv6Network.parse("fd00::/16"), with: "first")) {
            try create(&registry, v6("second", subnet: "fd00::/16"))
        }
        var noFlag = NetworkRequest(name: "x", subnet: "10.9.0.0/24")
        noFlag.subnet6 = "fd00:9::/64"
        #expect(throws: ModelError.invalidCIDR("fd00:9::/64", "an IPv6 subnet needs --ipv6")) {
            try create(&registry, noFlag)
        }
        #expect(throws: ModelError.self) { try create(&registry, v6("y", subnet: "fd00:9::1/64")) }
        #expect(throws: ModelError.self) { try create(&registry, v6("y", subnet: "fe80::/64")) }
        #expect(throws: ModelError.self) { try create(&registry, v6("y", subnet: "fd00:9::/64", gateway: "fd00:8::1")) }
        #expect(throws: ModelError.self) { try create(&registry, v6("y", subnet: "fd00:9::/64", range: "fd00:8::/80")) }
        #expect(throws: ModelError.self) { try create(&registry, v6("y", gateway: "fd00:8::1")) }
        var overlay = v6("o")
        overlay.driver = "overlay"
        #expect(
            throws: ModelError.invalidOption("--driver overlay", "overlay networks need the agent to be in a cluster")
        ) {
            try create(&registry, overlay)
        }
        #expect(registry.networks.filter { $0.ipv6 != nil }.map(\.name) == ["first"], "nothing half-made")
        // A macvlan network's subnet is the LAN's: the host's own prefix there is no clash.
        var macvlan = v6("m", subnet: "fd00:9::/64")
        macvlan.driver = "macvlan"
        let lan = try registry.planNetwork(
            macvlan, id: randomID(), now: now, hostPrefixes: [], hostPrefixes6: [IPv6Network.parse("fd00:9::/64")])
        #expect(lan.ipv6?.subnet.description == "fd00:9::/64")
    }

    /// An overlay's IPv6 subnet is the cluster's: it overlaps no network here nor elsewhere
    /// in the cluster (`otherSubnets6`), and the addresses the cluster store handed out are
    /// the endpoints'.
    @Test func overlayNetworksTakeIPv6() throws {
        var registry = try fresh()
        _ = try create(&registry, v6("local", subnet: "fd00:1::/64"))
        func overlay(_ name: String, subnet: String?, elsewhere: [(String, String)] = []) throws -> Network {
            var request = v6(name, subnet: subnet)
            request.driver = "overlay"
            return try registry.planNetwork(
                request, id: randomID(), now: now, hostPrefixes: [], vni: 4097,
                otherSubnets6: try elsewhere.map { ($0.0, try IPv6Network.parse($0.1)) })
        }
        let far = [("far", "fd00:2::/64")]
        #expect(throws: ModelError.poolOverlap6(try IPv6Network.parse("fd00:2::/64"), with: "far")) {
            try overlay("o", subnet: "fd00:2::/64", elsewhere: far)
        }
        #expect(throws: ModelError.poolOverlap6(try IPv6Network.parse("fd00:1::/64"), with: "local")) {
            try overlay("o", subnet: "fd00:1::/64")
        }
        #expect(
            throws: ModelError.hostPrefixOverlap6(
                try IPv6Network.parse("fd00:3::/64"), try IPv6Network.parse("fd00:3::/48"))
        ) {
            var request = v6("o", subnet: "fd00:3::/64")
            request.driver = "overlay"
            _ = try registry.planNetwork(
                request, id: randomID(), now: now, hostPrefixes: [], hostPrefixes6: [IPv6Network.parse("fd00:3::/48")],
                vni: 4097)
        }
        let network = try overlay("o", subnet: "fd00:9::/64", elsewhere: far)
        #expect(network.driver == .overlay && network.ipv6?.subnet.description == "fd00:9::/64")
        #expect(network.ipv6?.gateway.description == "fd00:9::1" && network.ipv6?.userSubnet == true)
        let automatic = try overlay("auto", subnet: nil, elsewhere: far)
        #expect(
            automatic.ipv6.map {
                $0.subnet.prefixLength == 64 && !$0.subnet.overlaps(try! IPv6Network.parse("fd00:2::/64"))
            } == true)
        registry.networks.append(network)

        // The cluster store's addresses are taken as they are, --ip6 was checked there.
        let reserved6 = try #require(IPv6Address("fd00:9::42"))
        let (a, endpoints) = try registry.planContainer(
            ContainerRequest(name: "a", network: "o"), id: randomID(), now: now,
            reserved: [network.id: IPv4Address(10, 111, 0, 7)], reserved6: [network.id: reserved6])
        #expect(endpoints.first?.ip6 == reserved6 && endpoints.first?.ip == IPv4Address(10, 111, 0, 7))
        registry.containers.append(a)
        registry.endpoints += endpoints
        let connected = try registry.planConnect(
            network: "local", container: "a", ip: nil, reserved6: IPv6Address("fd00:1::77"))
        #expect(connected.ip6?.description == "fd00:1::77")
        // --ip6 on the overlay goes through the same rules as on a bridge.
        #expect(throws: ModelError.addressOutsideSubnet6(try #require(IPv6Address("fd00:8::5")), network.ipv6!.subnet))
        {
            try registry.requestedAddress6("fd00:8::5", on: network)
        }
        #expect(try registry.requestedAddress6("fd00:9::5", on: network)?.description == "fd00:9::5")
    }

    @Test func hostPrefixesAreAvoided() throws {
        var registry = try fresh()
        let host = try IPv6Network.parse("2001:db8:1::/64")
        #expect(throws: ModelError.hostPrefixOverlap6(try IPv6Network.parse("2001:db8::/32"), host)) {
            _ = try registry.planNetwork(
                v6("h", subnet: "2001:db8::/32"), id: randomID(), now: now, hostPrefixes: [], hostPrefixes6: [host])
        }
        let network = try registry.planNetwork(
            v6("u"), id: randomID(), now: now, hostPrefixes: [], hostPrefixes6: [host])
        #expect(network.ipv6.map { !$0.subnet.overlaps(host) } == true)
        registry.networks.append(network)
    }

    @Test func rangeAndFamilies() throws {
        var registry = try fresh()
        let network = try create(
            &registry, v6("r", subnet: "fd00:5::/64", gateway: "fd00:5::fe", range: "fd00:5::100/120"))
        let (_, endpoints) = try registry.planContainer(
            ContainerRequest(name: "a", network: "r"), id: randomID(), now: now)
        #expect(network.ipv6?.gateway.description == "fd00:5::fe" && endpoints.first?.ip6?.description == "fd00:5::100")
        let split = try AddressFamilySplit(["10.0.0.0/24", "fd00::/64"], flag: "--subnet")
        #expect(split == AddressFamilySplit(ipv4: "10.0.0.0/24", ipv6: "fd00::/64"))
        #expect(throws: ModelError.self) { try AddressFamilySplit(["10.0.0.0/24", "10.1.0.0/24"], flag: "--subnet") }
    }
}
