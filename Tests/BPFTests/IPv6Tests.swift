import BPF
import CBPF
import Glibc
import Model
import XCTest

/// IPv6 through bp_ep_ingress and bp_up_ingress (BPF_PROG_TEST_RUN, DataplaneFixture): on a
/// dual-stack network the container's IPv6 gets IPv4's policy (sources, isolation, ICC,
/// internal networks), neighbour discovery is held to what ARP is held to, router messages
/// and everything beyond the host are dropped, and the uplink drops IPv6 straight to a
/// container's address. Every drop is checked for its reason.
final class IPv6Tests: XCTestCase {
    typealias T = NATAndPolicyTests

    // MARK: addresses (networks 1 and 2 of DataplaneFixture)

    static let subnet1 = ip6("fd00:40::")  // network 1, /64
    static let gateway1 = ip6("fd00:40::1")  // a host address
    static let container = ip6("fd00:40::2")  // the endpoint under test
    static let neighbour = ip6("fd00:40::3")  // another container of network 1
    static let subnet2 = ip6("fd00:50::")  // network 2, /64
    static let gateway2 = ip6("fd00:50::1")
    static let other = ip6("fd00:50::3")  // a container of network 2
    static let hostIP = ip6("2001:db8:1::1")  // the uplink's address, in no network
    static let internet = ip6("2001:4860:4860::8888")
    static let allNodes = ip6("ff02::1")
    static let allRouters = ip6("ff02::2")
    static let unspecified = ip6("::")
    static let neighbourMAC: [UInt8] = [0x02, 0x42, 0x0a, 0x28, 0x00, 0x03]
    static let strangerMAC: [UInt8] = [0x02, 0x42, 0x0a, 0x28, 0x00, 0x99]
    /// The link-local addresses the kernel derives from the MACs (EUI-64).
    static let containerLinkLocal = linkLocal(T.containerMAC)
    static let neighbourLinkLocal = linkLocal(neighbourMAC)
    static let gateway1LinkLocal = linkLocal(T.gatewayMAC)  // a host address

    static func linkLocal(_ mac: [UInt8]) -> [UInt8] { IPv6Address.linkLocal(mac: MACAddress(bytes: mac)).bytes }

    static let dualStack = [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED]

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
    }

    /// The fixture with the endpoint on dual-stack network 1 (fd00:40::2), with `flags`.
    func makeFixture(_ flags: [bp_endpoint_flags] = dualStack) throws -> DataplaneFixture {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: flags, ip6: Self.container)
        return f
    }

    /// A frame and what must become of it: nil passes untouched, a reason is a drop counted under it.
    typealias Case = (frame: [UInt8], drop: bp_drop_reason?, what: String)

    /// Runs each case through the endpoint (or the uplink) and checks its verdict and that
    /// exactly its drop was counted, on the endpoint's veth (the uplink's), egress (ingress).
    func check(
        _ f: DataplaneFixture, _ cases: [Case], uplink: Bool = false, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        for c in cases {
            var expected = try f.drops()
            let result = uplink ? try f.up(c.frame, file: file, line: line) : try f.ep(c.frame, file: file, line: line)
            if let reason = c.drop {
                assertShot(result, c.frame, c.what, file: file, line: line)
                let key = bp_drop_key(
                    ifindex: uplink ? f.uplinkIfindex : f.endpointIfindex, reason: reason,
                    direction: uplink ? BP_DIR_INGRESS : BP_DIR_EGRESS)
                expected[key, default: 0] += 1
            } else {
                assertUntouched(result, c.frame, c.what, file: file, line: line)
            }
            XCTAssertEqual(
                try f.drops().filter { $0.value > 0 }, expected.filter { $0.value > 0 },
                "\(c.what): drops counted", file: file, line: line)
        }
    }

    static func tcp(
        _ src: [UInt8], _ dst: [UInt8], extensions: [IPv6Extension] = [], srcMAC: [UInt8] = T.containerMAC
    )
        -> [UInt8]
    {
        Frame.tcp6(src: src, dst: dst, sport: 41000, dport: 443, extensions: extensions, srcMAC: srcMAC)
    }

    static func udp(_ src: [UInt8], _ dst: [UInt8]) -> [UInt8] {
        Frame.udp6(src: src, dst: dst, sport: 5353, dport: 5353, srcMAC: T.containerMAC)
    }

    static func sourceLinkLayer(_ mac: [UInt8] = T.containerMAC) -> [UInt8] { Frame.linkLayerOption(1, mac) }
    static func targetLinkLayer(_ mac: [UInt8] = T.containerMAC) -> [UInt8] { Frame.linkLayerOption(2, mac) }
    /// RFC 7527's nonce option, which Linux adds to duplicate address detection.
    static let nonce: [UInt8] = [14, 1, 1, 2, 3, 4, 5, 6]

    static func solicitation(
        _ src: [UInt8], for target: [UInt8], to dst: [UInt8]? = nil, options: [UInt8] = sourceLinkLayer()
    ) -> [UInt8] {
        Frame.neighbourSolicitation(src: src, target: target, dst: dst, options: options, srcMAC: T.containerMAC)
    }

    static func advertisement(
        _ src: [UInt8], for target: [UInt8], to dst: [UInt8] = allNodes, options: [UInt8] = targetLinkLayer()
    ) -> [UInt8] {
        Frame.neighbourAdvertisement(src: src, target: target, dst: dst, options: options, srcMAC: T.containerMAC)
    }

    /// An MLDv2 report (joining the container's solicited-node group) with the router alert
    /// hop-by-hop header, as the kernel sends it.
    static func mldReport(_ src: [UInt8]) -> [UInt8] {
        Frame.icmp6(
            src: src, dst: ip6("ff02::16"), type: Frame.icmp6MLD2Report,
            body: [0, 0, 0, 1, 4, 0, 0, 0] + Frame.solicitedNode(container), extensions: [.hopByHop()], hopLimit: 1,
            srcMAC: T.containerMAC)
    }

    /// A macvlan network's IPv6 prefix is the LAN's, reached as any outside address.
    func testALANPrefixIsNotIsolated() throws {
        let f = try makeFixture()
        try check(f, [(Self.tcp(Self.container, Self.other), BP_DROP_ISOLATION, "another bridge network")])
        try f.setSubnet6(
            Self.subnet2, 64, networkID: 2,
            flags: UInt16(BP_SUBNET_F_UNPROTECTED.rawValue | BP_SUBNET_F_LAN.rawValue))
        // Beyond the host: as its flows out go (here untranslated, tracked).
        try f.setEndpoint(flags: Self.dualStack + [BP_EP_F_TRACK_OUT6], ip6: Self.container)
        try check(f, [(Self.tcp(Self.container, Self.other), nil, "a host on the LAN")])
    }

    // MARK: IPv6-only networks

    /// An IPv6-only network's endpoint (no IPv4 address): its IPv4 and ARP are dropped as
    /// ipv4_disabled, whatever they claim; its IPv6 is judged as a dual-stack one's.
    func testIPv4OnAnIPv6OnlyNetworkIsDropped() throws {
        let f = try DataplaneFixture.make(for: self)
        try f.setEndpoint(flags: Self.dualStack + [BP_EP_F_IPV6_ONLY], ip6: Self.container, ipv4: false)
        let zero: [UInt8] = [0, 0, 0, 0]
        try check(
            f,
            [
                (
                    Frame.tcp(src: zero, dst: T.internet, sport: 41000, dport: 80, srcMAC: T.containerMAC),
                    BP_DROP_IPV4_DISABLED, "IPv4 from 0.0.0.0"
                ),
                (
                    Frame.tcp(src: T.container, dst: T.neighbour, sport: 41000, dport: 80, srcMAC: T.containerMAC),
                    BP_DROP_IPV4_DISABLED, "IPv4 from another address"
                ),
                (
                    Frame.arp(senderMAC: T.containerMAC, senderIP: zero, targetIP: T.gateway1),
                    BP_DROP_IPV4_DISABLED, "an ARP probe"
                ),
                (
                    Frame.arp(senderMAC: T.containerMAC, senderIP: T.container, targetIP: T.gateway1),
                    BP_DROP_IPV4_DISABLED, "an ARP request"
                ),
                (Self.tcp(Self.container, Self.neighbour), nil, "its IPv6 to a neighbour"),
                (Self.solicitation(Self.containerLinkLocal, for: Self.gateway1), nil, "its NDP"),
                (Self.tcp(Self.neighbour, Self.gateway1), BP_DROP_SPOOFED_SOURCE, "IPv6 from another address"),
            ])
        XCTAssertEqual(String(cString: bp_drop_reason_label(BP_DROP_IPV4_DISABLED.rawValue)), "ipv4_disabled")
    }

    // MARK: IPv4-only networks and other runtimes' interfaces

    func testIPv6OnAnIPv4OnlyNetworkIsDropped() throws {
        let f = try makeFixture([BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_IPV4_ONLY])
        try check(
            f,
            [
                (Self.tcp(Self.container, Self.neighbour), BP_DROP_IPV6_DISABLED, "TCP"),
                (Self.solicitation(Self.containerLinkLocal, for: Self.gateway1), BP_DROP_IPV6_DISABLED, "NDP"),
            ])
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_IPV4_ONLY])
        try check(f, [(Self.tcp(Self.container, Self.neighbour), BP_DROP_IPV6_DISABLED, "TCP, no IPv6 address")])
        // Another runtime's interface (no IPv4-only flag, no IPv6 address): not Bridgeport's to judge.
        try f.setEndpoint(flags: Self.dualStack)
        try check(
            f,
            [
                (Self.tcp(Self.neighbour, Self.internet), nil, "another runtime's, any source"),
                (Self.tcp(Self.container, Self.other), nil, "another runtime's, any destination"),
            ])
        // A dual-stack endpoint's IPv4 is judged as before.
        try f.setEndpoint(flags: Self.dualStack, ip6: Self.container)
        let v4 = Frame.tcp(src: T.container, dst: T.neighbour, sport: 33000, dport: 22, srcMAC: T.containerMAC)
        let v4Spoofed = Frame.tcp(src: T.neighbour, dst: T.internet, sport: 33000, dport: 22, srcMAC: T.containerMAC)
        let v4Isolated = Frame.tcp(src: T.container, dst: T.other, sport: 33000, dport: 22, srcMAC: T.containerMAC)
        try check(
            f,
            [
                (v4, nil, "IPv4 in the network"), (v4Spoofed, BP_DROP_SPOOFED_SOURCE, "IPv4 spoofed"),
                (v4Isolated, BP_DROP_ISOLATION, "IPv4 to another network"),
            ])
    }

    // MARK: sources

    func testIPv6SourcesAreTheContainersOwn() throws {
        let f = try makeFixture()
        try check(
            f,
            [
                (Self.tcp(Self.container, Self.neighbour), nil, "its address"),
                (Self.tcp(Self.containerLinkLocal, Self.neighbourLinkLocal), nil, "its link-local address"),
                (Self.tcp(Self.neighbour, Self.gateway1), BP_DROP_SPOOFED_SOURCE, "a neighbour's address"),
                (Self.tcp(Self.neighbourLinkLocal, Self.gateway1), BP_DROP_SPOOFED_SOURCE, "a neighbour's link-local"),
                (Self.tcp(ip6("fe80::1"), Self.gateway1), BP_DROP_SPOOFED_SOURCE, "another link-local address"),
                (Self.tcp(ip6("fd00:40::2:0"), Self.gateway1), BP_DROP_SPOOFED_SOURCE, "another address of its subnet"),
                (Self.udp(Self.unspecified, Self.allNodes), BP_DROP_SPOOFED_SOURCE, "UDP from ::"),
                (
                    Self.tcp(Self.container, Self.neighbour, srcMAC: Self.strangerMAC), BP_DROP_SPOOFED_SOURCE,
                    "another MAC"
                ),
                // Duplicate address detection: from ::, for its own addresses only.
                (Self.solicitation(Self.unspecified, for: Self.container, options: Self.nonce), nil, "DAD"),
                (
                    Self.solicitation(Self.unspecified, for: Self.containerLinkLocal, options: []), nil,
                    "DAD, link-local"
                ),
                (
                    Self.solicitation(Self.unspecified, for: Self.neighbour, options: Self.nonce),
                    BP_DROP_SPOOFED_SOURCE, "DAD for a neighbour's address"
                ),
                (
                    Self.solicitation(Self.unspecified, for: Self.gateway1, options: []), BP_DROP_SPOOFED_SOURCE,
                    "DAD for the gateway's address"
                ),
                (Self.mldReport(Self.unspecified), nil, "an MLD report before it has an address"),
                (Self.mldReport(Self.containerLinkLocal), nil, "an MLD report"),
                (
                    Frame.icmp6Echo(src: Self.unspecified, dst: Self.gateway1, id: 7, srcMAC: T.containerMAC),
                    BP_DROP_SPOOFED_SOURCE, "echo from ::"
                ),
            ])
        try f.setEndpoint(flags: [BP_EP_F_ISOLATED], ip6: Self.container)
        try check(
            f,
            [
                (Self.tcp(Self.neighbour, Self.gateway1), nil, "enforcement off: another source"),
                (Self.advertisement(Self.container, for: Self.gateway1), nil, "enforcement off: any target"),
            ])
    }

    // MARK: neighbour discovery

    func testNeighbourDiscoveryClaimsOnlyTheContainersOwn() throws {
        let f = try makeFixture()
        let ra = Frame.icmp6(
            src: Self.containerLinkLocal, dst: Self.allNodes, type: Frame.icmp6RouterAdvertisement,
            body: [64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0] + Self.sourceLinkLayer(), hopLimit: 255,
            srcMAC: T.containerMAC)
        let redirect = Frame.icmp6(
            src: Self.containerLinkLocal, dst: Self.neighbourLinkLocal, type: Frame.icmp6Redirect,
            body: [0, 0, 0, 0] + Self.containerLinkLocal + Self.internet, hopLimit: 255, srcMAC: T.containerMAC)
        let cut = Frame.icmp6(
            src: Self.container, dst: Self.allNodes, type: Frame.icmp6NeighbourAdvertisement,
            body: [0x20, 0, 0, 0] + Self.container.prefix(12), hopLimit: 255, srcMAC: T.containerMAC)
        try check(
            f,
            [
                (Self.solicitation(Self.container, for: Self.gateway1), nil, "NS for the gateway"),
                (Self.solicitation(Self.containerLinkLocal, for: Self.neighbour), nil, "NS for a neighbour"),
                (
                    Self.solicitation(Self.container, for: Self.neighbour, to: Self.neighbour, options: []), nil,
                    "NS unicast (unreachability detection)"
                ),
                (
                    Self.solicitation(Self.container, for: Self.gateway1, options: Self.nonce + Self.sourceLinkLayer()),
                    nil, "NS with a nonce"
                ),
                (
                    Self.solicitation(
                        Self.container, for: Self.gateway1, options: Self.sourceLinkLayer(Self.strangerMAC)),
                    BP_DROP_SPOOFED_SOURCE, "NS with another link-layer address"
                ),
                (Self.advertisement(Self.container, for: Self.container, to: Self.gateway1), nil, "NA, solicited"),
                (
                    Self.advertisement(
                        Self.containerLinkLocal, for: Self.containerLinkLocal, to: Self.gateway1LinkLocal),
                    nil, "NA for its link-local address"
                ),
                (Self.advertisement(Self.container, for: Self.container), nil, "NA, unsolicited"),
                (Self.advertisement(Self.container, for: Self.container, options: []), nil, "NA without options"),
                (
                    Self.advertisement(Self.container, for: Self.gateway1), BP_DROP_SPOOFED_SOURCE,
                    "NA claiming the gateway's address"
                ),
                (
                    Self.advertisement(Self.container, for: Self.neighbour, to: Self.gateway1), BP_DROP_SPOOFED_SOURCE,
                    "NA claiming a neighbour's address"
                ),
                (
                    Self.advertisement(Self.containerLinkLocal, for: Self.neighbourLinkLocal), BP_DROP_SPOOFED_SOURCE,
                    "NA claiming a neighbour's link-local address"
                ),
                (
                    Self.advertisement(
                        Self.container, for: Self.container, options: Self.targetLinkLayer(Self.strangerMAC)),
                    BP_DROP_SPOOFED_SOURCE, "NA with another link-layer address"
                ),
                (
                    Self.advertisement(
                        Self.container, for: Self.container,
                        options: Self.nonce + Self.targetLinkLayer(Self.strangerMAC)),
                    BP_DROP_SPOOFED_SOURCE, "NA with another link-layer address after another option"
                ),
                (cut, BP_DROP_MALFORMED, "NA without its whole target"),
                (
                    Self.advertisement(Self.container, for: Self.container, options: [2, 0, 0, 0, 0, 0, 0, 0]),
                    BP_DROP_MALFORMED, "an option of length 0"
                ),
                (
                    Self.advertisement(Self.container, for: Self.container, options: [14, 2, 0, 0, 0, 0, 0, 0]),
                    BP_DROP_MALFORMED, "an option past the end"
                ),
                (
                    Self.advertisement(
                        Self.container, for: Self.container,
                        options: Array([[UInt8]](repeating: Self.nonce, count: 5).joined())),
                    BP_DROP_MALFORMED, "more options than a container sends"
                ),
                (
                    Frame.icmp6(
                        src: Self.containerLinkLocal, dst: Self.allRouters, type: Frame.icmp6RouterSolicitation,
                        body: [0, 0, 0, 0] + Self.sourceLinkLayer(), hopLimit: 255, srcMAC: T.containerMAC), nil, "RS"
                ),
                (
                    Frame.icmp6(
                        src: Self.containerLinkLocal, dst: Self.allRouters, type: Frame.icmp6RouterSolicitation,
                        body: [0, 0, 0, 0] + Self.sourceLinkLayer(Self.strangerMAC), hopLimit: 255,
                        srcMAC: T.containerMAC), BP_DROP_SPOOFED_SOURCE, "RS with another link-layer address"
                ),
                (ra, BP_DROP_ROGUE_ROUTER, "a router advertisement"),
                (redirect, BP_DROP_ROGUE_ROUTER, "a redirect"),
                (
                    Frame.icmp6(
                        src: Self.neighbourLinkLocal, dst: Self.allNodes, type: Frame.icmp6RouterAdvertisement,
                        body: Array(repeating: 0, count: 12), srcMAC: T.containerMAC), BP_DROP_SPOOFED_SOURCE,
                    "a router advertisement from another source"
                ),
            ])
        try f.setEndpoint(flags: [BP_EP_F_ISOLATED], ip6: Self.container)
        try check(f, [(ra, BP_DROP_ROGUE_ROUTER, "a router advertisement, enforcement off")])
    }

    // MARK: isolation, ICC, internal networks

    func testIPv6DestinationsAsIPv4s() throws {
        let f = try makeFixture()
        let stays: [Case] = [
            (Self.tcp(Self.container, Self.neighbour), nil, "a neighbour"),
            (Self.tcp(Self.container, Self.gateway1), nil, "the gateway"),
            (Self.tcp(Self.container, Self.hostIP), nil, "the host's address outside the network"),
            (Self.tcp(Self.containerLinkLocal, Self.neighbourLinkLocal), nil, "a neighbour's link-local address"),
            (Self.tcp(Self.containerLinkLocal, Self.gateway1LinkLocal), nil, "the gateway's link-local address"),
            (Self.udp(Self.container, Self.allNodes), nil, "all nodes"),
            (Self.udp(Self.containerLinkLocal, ip6("ff02::fb")), nil, "mDNS"),
            (Self.udp(Self.container, ip6("ff05::1:3")), nil, "site-local multicast"),
            (
                Frame.icmp6Echo(src: Self.container, dst: Self.neighbour, id: 9, srcMAC: T.containerMAC), nil,
                "echo to a neighbour"
            ),
        ]
        try check(
            f,
            stays + [
                (Self.tcp(Self.container, Self.other), BP_DROP_ISOLATION, "another network's container"),
                (Self.tcp(Self.container, Self.gateway2), BP_DROP_ISOLATION, "another network's gateway"),
                (Self.tcp(Self.container, Self.internet), BP_DROP_IPV6_UNSUPPORTED, "beyond the host"),
                (
                    Frame.icmp6Echo(src: Self.container, dst: Self.internet, id: 9, srcMAC: T.containerMAC),
                    BP_DROP_IPV6_UNSUPPORTED, "echo beyond the host"
                ),
            ])
        // Routed, nothing leaves yet: there is no routed IPv6 (masquerading networks' is
        // NAT66Tests' business).
        try f.setEndpoint(flags: Self.dualStack + [BP_EP_F_TRACK_OUT], ip6: Self.container)
        try check(f, [(Self.tcp(Self.container, Self.internet), BP_DROP_IPV6_UNSUPPORTED, "beyond, routed")])
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE], ip6: Self.container)
        try check(
            f,
            [
                (Self.tcp(Self.container, Self.other), nil, "not isolated: another network"),
                (Self.tcp(Self.container, Self.internet), BP_DROP_IPV6_UNSUPPORTED, "not isolated: beyond the host"),
            ])
    }

    func testIPv6WithICCDisabled() throws {
        let f = try makeFixture(Self.dualStack + [BP_EP_F_ICC_DISABLED])
        try check(
            f,
            [
                (Self.tcp(Self.container, Self.neighbour), BP_DROP_ICC, "a neighbour"),
                (Self.tcp(Self.containerLinkLocal, Self.neighbourLinkLocal), BP_DROP_ICC, "a neighbour's link-local"),
                (
                    Frame.icmp6Echo(src: Self.container, dst: Self.neighbour, id: 9, srcMAC: T.containerMAC),
                    BP_DROP_ICC, "echo to a neighbour"
                ),
                (Self.udp(Self.container, Self.allNodes), BP_DROP_ICC, "all nodes"),
                (Self.udp(Self.containerLinkLocal, ip6("ff02::fb")), BP_DROP_ICC, "mDNS"),
                (Self.mldReport(Self.containerLinkLocal), BP_DROP_ICC, "an MLD report (multicast, as IGMP)"),
                (Self.tcp(Self.container, Self.gateway1), nil, "the gateway"),
                (Self.tcp(Self.containerLinkLocal, Self.gateway1LinkLocal), nil, "the gateway's link-local address"),
                (Self.tcp(Self.container, Self.hostIP), nil, "the host"),
                // Neighbour discovery passes as ARP does: the gateway must be reached.
                (Self.solicitation(Self.container, for: Self.gateway1), nil, "NS for the gateway"),
                (Self.solicitation(Self.containerLinkLocal, for: Self.neighbour), nil, "NS for a neighbour"),
                (
                    Self.solicitation(Self.container, for: Self.gateway1, to: Self.gateway1, options: []), nil,
                    "NS unicast to the gateway"
                ),
                (Self.advertisement(Self.container, for: Self.container, to: Self.gateway1), nil, "NA to the gateway"),
                (Self.advertisement(Self.container, for: Self.container, to: Self.neighbour), nil, "NA to a neighbour"),
                (Self.advertisement(Self.container, for: Self.container), nil, "NA to all nodes"),
                (Self.solicitation(Self.unspecified, for: Self.container, options: Self.nonce), nil, "DAD"),
                (
                    Self.solicitation(Self.container, for: Self.other, to: Self.other, options: []), BP_DROP_ISOLATION,
                    "NS into another network"
                ),
                (
                    Self.solicitation(Self.container, for: Self.internet, to: Self.internet, options: []),
                    BP_DROP_IPV6_UNSUPPORTED, "NS beyond the host"
                ),
                (Self.tcp(Self.container, Self.other), BP_DROP_ISOLATION, "another network"),
            ])
    }

    func testIPv6OnAnInternalNetwork() throws {
        let f = try makeFixture(Self.dualStack + [BP_EP_F_INTERNAL])
        try check(
            f,
            [
                (Self.tcp(Self.container, Self.internet), BP_DROP_INTERNAL, "beyond the host"),
                (Self.tcp(Self.container, Self.hostIP), BP_DROP_INTERNAL, "the host outside the network"),
                (Self.tcp(Self.container, Self.other), BP_DROP_ISOLATION, "another network: isolation first"),
                (Self.tcp(Self.container, Self.neighbour), nil, "a neighbour"),
                (Self.tcp(Self.container, Self.gateway1), nil, "the gateway"),
                (Self.udp(Self.container, Self.allNodes), nil, "multicast stays on the bridge"),
                (Self.tcp(Self.containerLinkLocal, Self.gateway1LinkLocal), nil, "link-local"),
            ])
    }

    // MARK: parsing

    func testIPv6ExtensionHeadersAndFragments() throws {
        let f = try makeFixture()
        let segment = Frame.tcpSegment(src: Self.container, dst: Self.neighbour, sport: 41000, dport: 443)
        func packet(
            _ extensions: [IPv6Extension], _ payload: [UInt8], nextHeader: UInt8 = 6, payloadLength: Int? = nil,
            dst: [UInt8] = IPv6Tests.neighbour, src: [UInt8] = IPv6Tests.container
        ) -> [UInt8] {
            Frame.ethernet(
                dst: Frame.ipv6DefaultDestinationMAC, src: T.containerMAC, type: Frame.ethTypeIPv6,
                payload: Frame.ipv6(
                    src: src, dst: dst, nextHeader: nextHeader, payload: payload, extensions: extensions,
                    payloadLength: payloadLength))
        }
        let eight = [IPv6Extension](repeating: .destinationOptions(), count: 8)
        var badVersion = Self.tcp(Self.container, Self.neighbour)
        badVersion[14] = 0x40
        try check(
            f,
            [
                (
                    packet([.hopByHop(), .destinationOptions(), .routing(length: 2), .destinationOptions()], segment),
                    nil, "four headers"
                ),
                (packet([.hopByHop(length: 3), .authentication(length: 4)], segment), nil, "authentication"),
                (packet(eight, segment), nil, "eight headers"),
                (packet(eight + [.destinationOptions()], segment), BP_DROP_EXT_HEADERS, "nine headers"),
                (packet(eight + [.fragment()], segment), BP_DROP_EXT_HEADERS, "eight headers and a fragment header"),
                (packet([.routing(), .hopByHop()], segment), BP_DROP_MALFORMED, "hop-by-hop after another header"),
                (packet([.fragment(more: true)], segment), nil, "a first fragment"),
                (packet([.fragment()], segment), nil, "an atomic fragment"),
                (
                    packet([.fragment(offset: 185, more: true)], Array(repeating: 0xee, count: 64)), nil,
                    "a later fragment"
                ),
                (
                    packet([.fragment(offset: 185)], Array(repeating: 0xee, count: 64), dst: Self.internet),
                    BP_DROP_IPV6_UNSUPPORTED, "a later fragment beyond the host"
                ),
                (
                    packet([.fragment(offset: 185)], Array(repeating: 0xee, count: 64), dst: Self.other),
                    BP_DROP_ISOLATION, "a later fragment into another network"
                ),
                (
                    packet([.fragment(offset: 185)], Array(repeating: 0xee, count: 64), src: Self.neighbour),
                    BP_DROP_SPOOFED_SOURCE, "a later fragment from another address"
                ),
                (
                    packet([.fragment(more: true)], Array(segment.prefix(12))), BP_DROP_MALFORMED,
                    "a first fragment without its whole TCP header"
                ),
                (
                    packet([.destinationOptions(length: 2)], segment, payloadLength: 16), BP_DROP_MALFORMED,
                    "a header past the payload length"
                ),
                (
                    packet([], segment, payloadLength: segment.count + 1), BP_DROP_MALFORMED,
                    "shorter than its payload length"
                ),
                (Array(Self.tcp(Self.container, Self.neighbour).dropLast(1)), BP_DROP_MALFORMED, "cut by one byte"),
                (packet([], Array(segment.prefix(19))), BP_DROP_MALFORMED, "a TCP header cut"),
                (
                    packet(
                        [],
                        Array(
                            Frame.udpDatagram(src: Self.container, dst: Self.neighbour, sport: 1, dport: 2, payload: [])
                                .prefix(6)), nextHeader: 17),
                    BP_DROP_MALFORMED, "a UDP header cut"
                ),
                (
                    packet([], [128, 0, 0, 0, 0, 1], nextHeader: 58), BP_DROP_MALFORMED,
                    "an echo without its identifier"
                ),
                (packet([], [1, 0, 0], nextHeader: 58), BP_DROP_MALFORMED, "ICMPv6 of 3 bytes"),
                (badVersion, BP_DROP_MALFORMED, "version 4 in an IPv6 header"),
                (packet([], [], nextHeader: 59), nil, "no next header"),
                (packet([.destinationOptions()], Array(repeating: 0x11, count: 24), nextHeader: 50), nil, "ESP"),
                (Self.tcp(Self.container, Self.neighbour) + Array(repeating: 0, count: 20), nil, "Ethernet padding"),
            ])
    }

    func testIPv6IsCountedPerEndpoint() throws {
        let f = try makeFixture()
        let passes = Self.tcp(Self.container, Self.neighbour)
        let dropped = Self.tcp(Self.container, Self.internet)
        for frame in [passes, dropped, passes] { _ = try f.ep(frame) }
        _ = try Sandbox.inNetns(f.ns) { try f.endpointEgress.run(passes, ifindex: f.endpointIfindex) }
        let stats = try XCTUnwrap(f.maps.endpointStats(ifindex: f.endpointIfindex))
        XCTAssertEqual(stats.tx, bp_traffic(packets: 3, bytes: UInt64(2 * passes.count + dropped.count)))
        XCTAssertEqual(stats.rx, bp_traffic(packets: 1, bytes: UInt64(passes.count)))
        XCTAssertEqual(
            try f.drops(),
            [bp_drop_key(ifindex: f.endpointIfindex, reason: BP_DROP_IPV6_UNSUPPORTED, direction: BP_DIR_EGRESS): 1])
        XCTAssertEqual(
            String(cString: bp_drop_reason_label(BP_DROP_IPV6_UNSUPPORTED.rawValue)), "ipv6_unsupported")
        XCTAssertEqual(String(cString: bp_drop_reason_label(BP_DROP_ROGUE_ROUTER.rawValue)), "rogue_router")
        XCTAssertEqual(String(cString: bp_drop_reason_label(BP_DROP_EXT_HEADERS.rawValue)), "ext_headers")
    }

    // MARK: the uplink

    func testTheUplinkDropsIPv6ToContainers() throws {
        let f = try makeFixture()
        func from(_ src: [UInt8], to dst: [UInt8]) -> [UInt8] {
            Frame.tcp6(src: src, dst: dst, sport: 40000, dport: 80, srcMAC: Frame.defaultSourceMAC)
        }
        try check(
            f,
            [
                (from(Self.internet, to: Self.container), BP_DROP_DIRECT_ACCESS, "to a container"),
                (from(Self.internet, to: Self.other), BP_DROP_DIRECT_ACCESS, "to another network's container"),
                (
                    Frame.icmp6Echo(src: Self.internet, dst: Self.container, id: 3), BP_DROP_DIRECT_ACCESS,
                    "echo to a container"
                ),
                (
                    Frame.ethernet(
                        src: Frame.defaultSourceMAC, type: Frame.ethTypeIPv6,
                        payload: Frame.ipv6(
                            src: Self.internet, dst: Self.container, nextHeader: 6, payload: [1, 2, 3],
                            extensions: [.fragment(offset: 100)])), BP_DROP_DIRECT_ACCESS, "a later fragment"
                ),
                (from(Self.internet, to: Self.gateway1), nil, "to a gateway: the host's"),
                (from(Self.internet, to: Self.hostIP), nil, "to the host"),
                (from(Self.internet, to: ip6("2001:db8:99::1")), nil, "to another host"),
                (
                    Frame.neighbourSolicitation(src: ip6("fe80::1"), target: Self.hostIP), nil,
                    "neighbour discovery of the host"
                ),
            ], uplink: true)
        // An uplink without an Ethernet header: BPF_PROG_TEST_RUN reads bytes 12-13 as the
        // protocol, the source address's 5th and 6th bytes here.
        let source = ip6("2001:db8:86dd::7")
        let bare = Array(from(source, to: Self.container).dropFirst(14))
        let result = try f.upL3(bare)
        XCTAssertEqual(result.verdict, T.shot, "an L3 uplink's IPv6 to a container")
        let toHost = Array(from(source, to: Self.hostIP).dropFirst(14))
        assertUntouched(try f.upL3(toHost), toHost, "an L3 uplink's IPv6 to the host")
        XCTAssertEqual(
            try f.drops()[
                bp_drop_key(ifindex: f.uplinkIfindex, reason: BP_DROP_DIRECT_ACCESS, direction: BP_DIR_INGRESS)], 5)
    }
}
