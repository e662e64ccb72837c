import CLinux
import Glibc
import Synchronization

/// An IPv4 prefix: address in host byte order (10.0.0.1 is 0x0a000001) and length.
public struct Prefix4: Hashable, Sendable, CustomStringConvertible {
    public var address: UInt32
    public var length: Int
    public init(address: UInt32, length: Int) {
        self.address = address
        self.length = length
    }
    public var description: String { "\(dotted(address))/\(length)" }
}

/// A network interface as rtnetlink lists it.
public struct LinkInfo: Hashable, Sendable {
    public var name: String
    public var index: Int
    /// "bridge", "veth", ...; nil for plain devices such as lo or a physical NIC.
    public var kind: String?
    public var alias: String?
    /// ifindex of the bridge the link is attached to, 0 when none.
    public var masterIndex: Int
    /// Its type (ARPHRD_*): 1 for Ethernet; tun and WireGuard (0xFFFE), ipip (768)... carry
    /// packets without an Ethernet header.
    public var type: UInt16 = 1
    public var isUp = false

    public init(
        name: String, index: Int, kind: String? = nil, alias: String? = nil, masterIndex: Int = 0,
        type: UInt16 = 1, isUp: Bool = false
    ) {
        (self.name, self.index, self.kind, self.alias, self.masterIndex, self.type, self.isUp) = (
            name, index, kind, alias, masterIndex, type, isUp
        )
    }

    /// What enumeration and events report (see struct bp_link).
    init(_ link: bp_link) {
        self.init(
            name: link.name.map { String(cString: $0) } ?? "", index: Int(link.ifindex),
            kind: link.kind.map { String(cString: $0) }, alias: link.alias.map { String(cString: $0) },
            masterIndex: Int(link.master_ifindex), type: link.type, isUp: link.up != 0)
    }
}

/// An rtnetlink socket bound to one network namespace: the caller's when `namespace` is
/// nil, else the namespace mounted at that path (it stays bound to it). Calls are
/// serialized internally, so one socket can be shared between tasks.
public final class RouteSocket: Sendable {
    /// libnl's socket; a netlink socket answers one request at a time.
    private let handle: Mutex<OpaquePointer>

    public init(namespace path: String?) throws {
        var handle: OpaquePointer?
        try check(bp_nl_open(path, &handle)) { errno in
            if let path { return .namespace(operation: "open netlink socket in", path: path, errno: errno) }
            return .netlink(operation: "open", object: "netlink socket", errno: errno)
        }
        self.handle = Mutex(handle!)
    }

    deinit { handle.withLock { bp_nl_close($0) } }

    private func call(_ operation: String, _ object: String, _ body: (OpaquePointer) -> Int32) throws {
        let result = handle.withLock { handle in body(handle) }
        try check(result) { .netlink(operation: operation, object: object, errno: $0) }
    }

    /// The link's ifindex, or nil when there is no link of that name.
    public func index(of name: String) -> Int? {
        let index = handle.withLock { handle in bp_link_index(handle, name) }
        return index > 0 ? Int(index) : nil
    }

    /// The name of the link with that ifindex, or nil when there is none.
    public func name(ofIndex index: UInt32) -> String? {
        var name = [CChar](repeating: 0, count: 16)
        let rc = handle.withLock { handle in bp_link_name(handle, Int32(bitPattern: index), &name) }
        guard rc == 0 else { return nil }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A bridge, down, whose ifalias marks it as ours (its MTU: see `setMTU`).
    public func addBridge(name: String, alias: String) throws {
        try call("create bridge", name) { bp_bridge_add($0, name, alias) }
    }

    /// A veth pair: `host` stays here with ifalias `alias`; `peer` is created directly in the
    /// namespace open at `peerNamespace` (an fd) with MAC `peerMAC` (6 bytes). Both are down.
    /// `mtu` nil keeps the default.
    public func addVeth(
        host: String, alias: String, peer: String, peerNamespace fd: Int32, peerMAC: [UInt8],
        mtu: Int? = nil
    ) throws {
        precondition(peerMAC.count == 6, "a MAC address has 6 bytes")
        try call("create veth pair", "\(host)/\(peer)") {
            bp_veth_add($0, host, alias, peer, fd, peerMAC, UInt32(mtu ?? 0))
        }
    }

    /// A macvlan device of `parent` (a link of this namespace), created as `name` directly
    /// in the namespace open at `namespace`, with `mac`, `mode` and the ifindex `index`.
    public func addMacvlan(
        parent: String, name: String, namespace fd: Int32, mac: [UInt8], mode: String, index: Int
    ) throws {
        precondition(mac.count == 6, "a MAC address has 6 bytes")
        try call("create macvlan device of", parent) { bp_macvlan_add($0, parent, name, fd, mac, mode, Int32(index)) }
    }

    /// An 802.1Q sub-interface `name` of `base` with `vlan`, marked as ours by `alias`.
    public func addVLAN(base: String, name: String, vlan: Int, alias: String) throws {
        try call("create VLAN sub-interface", name) { bp_vlan_add($0, base, name, Int32(vlan), alias) }
    }

    /// A veth pair with both ends here, up (a stand-in for a dummy device).
    public func addVethPair(name: String, peer: String, alias: String) throws {
        let here = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard here >= 0 else { throw LinkError.file(operation: "open", path: "/proc/thread-self/ns/net", errno: errno) }
        defer { close(here) }
        try call("create veth pair", "\(name)/\(peer)") { bp_veth_add($0, name, alias, peer, here, nil, 0) }
        try setUp(peer)
    }

    public func addDummy(name: String, alias: String) throws {
        try call("create dummy device", name) { bp_dummy_add($0, name, alias) }
    }

    /// A VXLAN device (VNI `vni`, source `local` in host order, UDP `port`), no learning,
    /// ARP answered from its neighbour table.
    public func addVXLAN(name: String, alias: String, vni: UInt32, local: UInt32, port: UInt16, mtu: Int?) throws {
        try call("create VXLAN device", name) {
            bp_vxlan_add($0, name, alias, vni, local.bigEndian, port, UInt32(mtu ?? 0))
        }
    }

    /// Where a remote container lives on a VXLAN device: its address answers ARP with
    /// `mac`, and frames to `mac` go to the VTEP `vtep` (addresses in host order).
    public func setRemoteNeighbour(device: String, ip: UInt32, mac: [UInt8], vtep: UInt32) throws {
        try call("add neighbour \(dotted(ip)) on", device) { bp_neigh_replace($0, device, ip.bigEndian, mac) }
        try call("add forwarding entry to \(dotted(vtep)) on", device) {
            bp_fdb_replace($0, device, mac, vtep.bigEndian)
        }
    }

    /// The addresses (host order) of the permanent neighbour entries on a device.
    public func permanentNeighbours(device: String) throws -> [UInt32] {
        try prefixes("neighbours of \(device)") { bp_neigh_list_permanent($0, device, $1, $2) }.map(\.address)
    }

    /// Removes both entries; missing ones are fine.
    public func removeRemoteNeighbour(device: String, ip: UInt32, mac: [UInt8], vtep: UInt32) {
        _ = handle.withLock { handle in bp_neigh_del(handle, device, ip.bigEndian, mac) }
        _ = handle.withLock { handle in bp_fdb_del(handle, device, mac, vtep.bigEndian) }
    }

    /// A remote container's IPv6 address (16 bytes) on a VXLAN device: its NDP proxy answers
    /// neighbour solicitations with `mac`, whose forwarding entry `setRemoteNeighbour` makes.
    public func setRemoteNeighbour6(device: String, ip: [UInt8], mac: [UInt8]) throws {
        precondition(ip.count == 16 && mac.count == 6, "16-byte IPv6 address and 6-byte MAC expected")
        try call("add IPv6 neighbour on", device) { bp_neigh6_replace($0, device, ip, mac) }
    }

    /// The addresses (16 bytes each) of the permanent IPv6 neighbour entries on a device.
    public func permanentNeighbours6(device: String) throws -> [[UInt8]] {
        var result: [[UInt8]] = []
        try withUnsafeMutablePointer(to: &result) { pointer in
            try call("list", "IPv6 neighbours of \(device)") {
                bp_neigh6_list_permanent(
                    $0, device,
                    { context, address in
                        context!.assumingMemoryBound(to: [[UInt8]].self).pointee.append(
                            Array(UnsafeBufferPointer(start: address, count: 16)))
                    }, pointer)
            }
        }
        return result
    }

    /// Removes the IPv6 neighbour entry; a missing one is fine.
    public func removeRemoteNeighbour6(device: String, ip: [UInt8], mac: [UInt8]) {
        _ = handle.withLock { handle in bp_neigh6_del(handle, device, ip, mac) }
    }

    public func setMaster(_ name: String, master: String) throws {
        try call("attach", "\(name) to \(master)") { bp_link_set_master($0, name, master) }
    }

    public func setMAC(_ name: String, _ mac: [UInt8]) throws {
        precondition(mac.count == 6, "a MAC address has 6 bytes")
        try call("set the MAC of", name) { bp_link_set_mac($0, name, mac) }
    }

    /// A bridge given an MTU keeps it whatever its ports' MTUs (the kernel's mtu_set_by_user).
    public func setMTU(_ name: String, _ mtu: Int) throws {
        try call("set the MTU \(mtu) of", name) { bp_link_set_mtu($0, name, UInt32(mtu)) }
    }

    /// The MTU of the link that holds `address` (host order); nil when no link does.
    public func mtu(ofLinkWithAddress address: UInt32) throws -> Int? {
        let result = handle.withLock { handle in bp_addr_link_mtu(handle, address.bigEndian) }
        if result == -EADDRNOTAVAIL { return nil }
        return Int(try check(result) { .netlink(operation: "find the link of", object: dotted(address), errno: $0) })
    }

    public func setUp(_ name: String) throws {
        try call("bring up", name) { bp_link_set_up($0, name) }
    }

    /// Deletes a link; false when there was none.
    @discardableResult
    public func delete(link name: String) throws -> Bool {
        let result = handle.withLock { handle in bp_link_del(handle, name) }
        if result == -ENODEV { return false }
        try check(result) { .netlink(operation: "delete link", object: name, errno: $0) }
        return true
    }

    /// Adds the address; one that is already there is success.
    public func addAddress(_ prefix: Prefix4, device: String) throws {
        try call("add address \(prefix) to", device) {
            bp_addr_add($0, device, prefix.address.bigEndian, Int32(prefix.length))
        }
    }

    /// Replaces the main table's IPv4 default route with one via gateway (host order).
    public func replaceDefaultRoute(via gateway: UInt32, device: String) throws {
        try call("set default route via \(dotted(gateway)) dev", device) {
            bp_route_replace_default($0, gateway.bigEndian, device)
        }
    }

    /// Removes the IPv4 default route(s); none is success.
    public func deleteDefaultRoute() throws {
        try call("delete", "default route") { bp_route_del_default($0) }
    }

    /// Adds an IPv6 address (16 bytes, network order) without duplicate address detection;
    /// one that is already there is success.
    public func addAddress6(_ address: [UInt8], length: Int, device: String) throws {
        precondition(address.count == 16)
        try call("add IPv6 address to", device) { bp_addr6_add($0, device, address, Int32(length)) }
    }

    /// Replaces the main table's IPv6 default route with one via gateway (16 bytes).
    public func replaceDefaultRoute6(via gateway: [UInt8], device: String) throws {
        precondition(gateway.count == 16)
        try call("set IPv6 default route dev", device) { bp_route6_replace_default($0, gateway, device) }
    }

    /// Removes the IPv6 default route(s); none is success.
    public func deleteDefaultRoute6() throws {
        try call("delete", "IPv6 default route") { bp_route6_del_default($0) }
    }

    public func links() throws -> [LinkInfo] {
        var result: [LinkInfo] = []
        try withUnsafeMutablePointer(to: &result) { list in
            try call("list", "links") {
                bp_link_list(
                    $0,
                    { context, link in
                        context!.assumingMemoryBound(to: [LinkInfo].self).pointee.append(LinkInfo(link!.pointee))
                    }, list)
            }
        }
        return result
    }

    /// Every IPv4 address of the namespace, with its prefix length.
    public func addresses() throws -> [Prefix4] { try prefixes("addresses", bp_addr_list) }
    /// The destination of every IPv4 route of the namespace, all tables.
    public func routes() throws -> [Prefix4] { try prefixes("routes", bp_route_list) }

    private func prefixes(
        _ what: String,
        _ list: (OpaquePointer?, bp_prefix_cb?, UnsafeMutableRawPointer?) -> Int32
    ) throws -> [Prefix4] {
        var result: [Prefix4] = []
        try withUnsafeMutablePointer(to: &result) { pointer in
            try call("list", what) {
                list(
                    $0,
                    { context, address, length in
                        context!.assumingMemoryBound(to: [Prefix4].self).pointee.append(
                            Prefix4(address: UInt32(bigEndian: address), length: Int(length)))
                    }, pointer)
            }
        }
        return result
    }
}

/// Network namespaces kept alive by a bind mount, like `ip netns add` (no external command).
public enum NetworkNamespace {
    /// The IPv6 addresses of the calling process's namespace (each 16 bytes) with their
    /// prefix lengths, link-local ones included, from /proc/self/net/if_inet6 (the kernel's
    /// own list: "ADDRESS IFINDEX PREFIXLEN SCOPE FLAGS NAME" in hex; empty without IPv6).
    public static func ipv6Addresses() -> [(address: [UInt8], prefixLength: Int)] {
        guard let text = Sandbox.readText("/proc/self/net/if_inet6") else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 3, fields[0].count == 32, let length = Int(fields[2], radix: 16) else { return nil }
            let hex = fields[0]
            let bytes = stride(from: 0, to: 32, by: 2).compactMap { offset -> UInt8? in
                let start = hex.index(hex.startIndex, offsetBy: offset)
                return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)
            }
            return bytes.count == 16 ? (bytes, length) : nil
        }
    }

    /// Creates the namespace and mounts it at path (a new file; the directory must exist).
    /// Its lo is up.
    public static func create(at path: String) throws {
        try check(bp_netns_create(path)) { .namespace(operation: "create network namespace", path: path, errno: $0) }
    }
    /// Unmounts and removes path; a missing one is success.
    public static func delete(at path: String) throws {
        try check(bp_netns_delete(path)) { .namespace(operation: "delete network namespace", path: path, errno: $0) }
    }
    public static func isMounted(at path: String) -> Bool { bp_netns_is_mounted(path) == 1 }

    /// Runs body with the calling thread inside the namespace at path, then returns. Body
    /// must be synchronous (no suspension point): only this thread switches.
    public static func run<R>(in path: String, _ body: () throws -> R) throws -> R {
        var home: Int32 = -1
        try check(bp_netns_enter(path, &home)) {
            .namespace(operation: "enter network namespace", path: path, errno: $0)
        }
        defer { bp_netns_leave(home) }
        return try body()
    }
}

func dotted(_ address: UInt32) -> String {
    "\(address >> 24).\(address >> 16 & 0xff).\(address >> 8 & 0xff).\(address & 0xff)"
}
