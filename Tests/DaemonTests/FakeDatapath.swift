import BPF
import Datapath
import Links
import Model
import Synchronization

/// The failure FakeDatapath injects.
struct InjectedFailure: Error, CustomStringConvertible {
    var call: String
    var description: String { "injected failure of \(call)" }
}

/// A Datapath in memory: it keeps what the agent told it, as the kernel would hold it,
/// and can fail its N-th throwing call. What it holds is compared before and after a
/// change that failed: a change is all or nothing, in the kernel as in the store.
final class FakeDatapath: Datapath {
    /// What the kernel would hold.
    struct Kernel: Equatable {
        var networks: Set<String> = []
        var endpoints: Set<String> = []
        /// Other runtimes' interfaces with the endpoint programs on.
        var equipped: Set<String> = []
        /// Veths made for dockerd, by host-side name.
        var dockerVeths: Set<String> = []
        /// The network IDs the programs know the subnets of.
        var subnets: Set<String> = []
        /// Published host ports in the port map.
        var ports: Set<HostPort> = []
        /// Container namespaces the socket hooks act in, with whom their sockets are.
        var namespaces: [String: SocketSource?] = [:]
        /// Container namespaces whose 127.0.0.11:53 goes to an embedded DNS server.
        var dnsRedirected: Set<String> = []
        /// Default route per container namespace: gateway and device. It goes with its
        /// device, as in the kernel.
        var routes: [String: Route] = [:]
        var routes6: [String: Route6] = [:]
    }

    struct Route6: Equatable {
        var gateway: IPv6Address
        var device: String
    }

    struct Route: Equatable {
        var gateway: IPv4Address
        var device: String
    }

    private struct Control {
        var kernel = Kernel()
        /// Links that exist without Bridgeport (other runtimes' veths).
        var foreignLinks: Set<String> = []
        /// The host sides of the endpoints' veths.
        var veths: Set<String> = []
        /// The interfaces the endpoint map has an entry of (by name: the kernel's go by ifindex).
        var entries: Set<String> = []
        /// The host's uplinks, and those the uplink program's pins are of (they outlive
        /// their link until forgotten).
        var uplinks: [LinkInfo] = []
        var pinnedUplinks: Set<String> = []
        var addressRefreshes = 0
        var calls = 0
        var failAt: Int?
        var failed: String?
    }

    private let control = Mutex(Control())

    var kernel: Kernel { control.withLock { $0.kernel } }
    /// The call that failed, once one did.
    var failedCall: String? { control.withLock { $0.failed } }

    /// Fails the `n`-th throwing call from now (1: the next one).
    func fail(call n: Int) {
        control.withLock {
            $0.calls = 0
            $0.failAt = n
            $0.failed = nil
        }
    }
    func addForeignLink(_ name: String) { control.withLock { _ = $0.foreignLinks.insert(name) } }
    func addUplink(_ link: LinkInfo) { control.withLock { $0.uplinks.append(link) } }

    /// `ip link del` behind the agent's back: map entries and pins stay.
    func deleteLink(_ name: String) {
        control.withLock {
            $0.foreignLinks.remove(name)
            $0.veths.remove(name)
            $0.kernel.dockerVeths.remove(name)
            $0.uplinks.removeAll { $0.name == name }
        }
    }

    /// The interfaces with an entry in the endpoint map; the uplinks with pins.
    var entries: Set<String> { control.withLock { $0.entries } }
    var pinnedUplinks: Set<String> { control.withLock { $0.pinnedUplinks } }
    var addressRefreshes: Int { control.withLock { $0.addressRefreshes } }

    /// Counts a throwing call, fails it when its turn has come, else applies `change`.
    private func step(_ call: String, _ change: (inout Kernel) throws -> Void = { _ in }) throws {
        try control.withLock { control in
            control.calls += 1
            if control.calls == control.failAt {
                control.failed = call
                throw InjectedFailure(call: call)
            }
            try change(&control.kernel)
        }
    }

    private func change(_ change: (inout Kernel) -> Void) { control.withLock { change(&$0.kernel) } }

    private static func index(_ name: String) -> UInt32 { UInt32(truncatingIfNeeded: name.hashValue & 0x3fff_ffff) | 1 }

    // MARK: Host

    func hostPrefixes() throws -> [IPv4Network] {
        try step("hostPrefixes")
        return [IPv4Network(containing: IPv4Address(10, 99, 0, 0), prefixLength: 16)]
    }

    func linkExists(_ name: String) -> Bool {
        control.withLock { control in
            control.foreignLinks.contains(name) || control.kernel.dockerVeths.contains(name)
                || control.veths.contains(name) || control.uplinks.contains { $0.name == name }
        }
    }

    func ifindex(ofLink name: String) -> UInt32? {
        if let uplink = control.withLock({ $0.uplinks.first { $0.name == name } }) { return UInt32(uplink.index) }
        return linkExists(name) ? FakeDatapath.index(name) : nil
    }
    func ifindex(of endpoint: Endpoint) -> UInt32? {
        kernel.endpoints.contains(endpoint.id) ? FakeDatapath.index(endpoint.id) : nil
    }
    func refreshHostAddresses() throws {
        try step("refreshHostAddresses")
        control.withLock { $0.addressRefreshes += 1 }
    }

    // MARK: Networks

    func ensureNetwork(_ network: Network) throws -> [String] {
        try step("ensureNetwork") { $0.networks.insert(network.id) }
        return []
    }

    func removeNetwork(_ network: Network) { change { $0.networks.remove(network.id) } }
    /// No tunnels here: the agent's tests run without a cluster (overlay.sh covers them).
    func forgetTunnel(of network: Network) {}

    func syncSubnets(_ registry: Registry) throws {
        try step("syncSubnets") { $0.subnets = Set(registry.networks.filter { $0.subnet != nil }.map(\.id)) }
    }

    // MARK: Overlay

    func setVXLANPeers(_ hosts: Set<IPv4Address>?, keepingOthers: Bool) throws { try step("setVXLANPeers") }
    func setRemoteEndpoint(
        network: Network, ip: IPv4Address, ip6: IPv6Address?, mac: MACAddress, host: IPv4Address
    ) throws {
        try step("setRemoteEndpoint")
    }
    func removeStaleRemoteEndpoints(network: Network, keeping: Set<IPAddress>) -> [IPAddress] { [] }
    func removeRemoteEndpoint(network: Network, ip: IPv4Address, ip6: IPv6Address?, mac: MACAddress, host: IPv4Address)
    {}

    // MARK: Endpoints

    func attach(_ endpoint: Endpoint, network: Network, namespace: String) throws {
        try step("attach") { $0.endpoints.insert(endpoint.id) }
        if let veth = endpoint.hostInterface { control.withLock { _ = $0.veths.insert(veth) } }
        equipped(endpoint.hostInterface)
    }

    func configure(_ endpoint: Endpoint, network: Network, namespace: String) throws {
        try step("configure") { $0.endpoints.insert(endpoint.id) }
        equipped(endpoint.hostInterface)
    }

    /// Its entry is written, when its link exists.
    private func equipped(_ interface: String?) {
        guard let interface, linkExists(interface) else { return }
        control.withLock { _ = $0.entries.insert(interface) }
    }

    func interfaceExists(_ endpoint: Endpoint, namespace: String) -> Bool { kernel.endpoints.contains(endpoint.id) }
    func detach(_ endpoint: Endpoint, namespace: String) {
        // As the kernel's: by the ifindex its veth has, if it has one still.
        if let veth = endpoint.hostInterface, linkExists(veth) { forget(veth) }
        control.withLock { if let veth = endpoint.hostInterface { $0.veths.remove(veth) } }
        change { kernel in
            kernel.endpoints.remove(endpoint.id)
            if kernel.routes[namespace]?.device == endpoint.containerInterface { kernel.routes[namespace] = nil }
            if kernel.routes6[namespace]?.device == endpoint.containerInterface { kernel.routes6[namespace] = nil }
        }
    }

    func setDefaultRoute(namespace: String, via gateway: IPv4Address?, device: String?) throws {
        try step("setDefaultRoute") { kernel in
            kernel.routes[namespace] = gateway.flatMap { gateway in device.map { Route(gateway: gateway, device: $0) } }
        }
    }

    func setDefaultRoute6(namespace: String, via gateway: IPv6Address?, device: String?) throws {
        try step("setDefaultRoute6") { kernel in
            kernel.routes6[namespace] = gateway.flatMap { gateway in device.map { Route6(gateway: gateway, device: $0) }
            }
        }
    }

    func hostPrefixes6() -> [IPv6Network] { [] }

    func flushFlows(of endpoint: Endpoint) {}
    /// By name: what the kernel finds by an ifindex not given is left to removeGoneEndpoints.
    func forgetRemovedLink(name: String, ifindex: UInt32?, address: IPv4Address?) {
        if ifindex != nil { forget(name) }
    }

    private func forget(_ interface: String) { control.withLock { _ = $0.entries.remove(interface) } }

    // MARK: Other runtimes' interfaces

    func equip(_ attachment: Attachment, network: Network?) throws {
        guard linkExists(attachment.hostInterface) else {
            throw DatapathError.interfaceNotFound(attachment.hostInterface)
        }
        try step("equip") { $0.equipped.insert(attachment.hostInterface) }
        equipped(attachment.hostInterface)
    }

    func unequip(_ attachment: Attachment) {
        if linkExists(attachment.hostInterface) { forget(attachment.hostInterface) }
        change { kernel in
            kernel.equipped.remove(attachment.hostInterface)
            if attachment.networkID != nil { kernel.dockerVeths.remove(attachment.hostInterface) }
        }
    }

    func addDockerVeth(hostSide: String, peer: String, mac: MACAddress, network: Network, alias: String) throws {
        try step("addDockerVeth") { $0.dockerVeths.insert(hostSide) }
    }

    // MARK: Published ports

    func publish(_ container: Container, registry: Registry) throws {
        try step("publish") { $0.ports.formUnion(container.publishedPorts.map(\.hostSide)) }
    }

    func unpublish(_ container: Container) { change { $0.ports.subtract(container.ports.map(\.hostSide)) } }

    func syncPorts(_ registry: Registry) throws {
        try step("syncPorts") { kernel in
            let containers = registry.containers.filter { container in
                registry.endpoints(ofContainer: container.id).contains { kernel.endpoints.contains($0.id) }
            }
            kernel.ports = Set(
                containers.flatMap(\.publishedPorts).map(\.hostSide)
                    + registry.attachments.flatMap(\.ports).map(\.hostSide))
        }
    }

    func hostPortInUse(_ port: HostPort) -> Bool { false }

    // MARK: Uplinks

    func attachUplinks(except: Set<String>) throws -> [LinkInfo] {
        try step("attachUplinks")
        return try uplinks().filter { !except.contains($0.name) }.filter(attachUplink)
    }

    func attachUplink(_ link: LinkInfo) throws -> Bool {
        try step("attachUplink")
        control.withLock { _ = $0.pinnedUplinks.insert(link.name) }
        return true
    }

    func forgetUplink(name: String) { control.withLock { _ = $0.pinnedUplinks.remove(name) } }
    func uplinks() throws -> [LinkInfo] { control.withLock { $0.uplinks } }

    // MARK: Socket hooks

    func attachSocketHooks(cgroup: String?) throws -> String {
        try step("attachSocketHooks")
        return cgroup ?? "/fake"
    }

    func syncNamespaces(containers: [(path: String, source: SocketSource?)]) throws {
        try step("syncNamespaces") { kernel in
            kernel.namespaces = Dictionary(
                containers.map { ($0.path, $0.source) }, uniquingKeysWith: { _, last in last })
            kernel.dnsRedirected = []
        }
    }

    func register(containerNamespace path: String, source: SocketSource?, dns: DNSServerPorts?) throws {
        try step("register") { kernel in
            kernel.namespaces[path] = .some(source)
            if dns == nil { kernel.dnsRedirected.remove(path) } else { kernel.dnsRedirected.insert(path) }
        }
    }

    func unregister(containerNamespace path: String) {
        change {
            $0.namespaces[path] = nil
            $0.dnsRedirected.remove(path)
        }
    }

    /// Real sockets, as the kernel datapath binds them: the test's namespaces are real.
    func boundSockets(namespace path: String, address: IPv4Address) throws -> ServerSockets {
        try step("boundSockets")
        return try ServerSockets.bind(address: address, in: path)
    }

    func socketSource(_ endpoints: [Endpoint]) -> SocketSource? {
        endpoints.sorted { $0.order < $1.order }.lazy.compactMap { endpoint in
            endpoint.ip.flatMap { ip in
                self.ifindex(of: endpoint).map { SocketSource(ip: ip, ip6: endpoint.ip6, ifindex: $0) }
            }
        }.first
    }

    // MARK: Reconcile and reading

    func removeOrphans(keeping registry: Registry) throws -> [String] {
        try step("removeOrphans")
        return []
    }

    /// The entries of interfaces the registry has no link of.
    func removeGoneEndpoints(keeping registry: Registry) throws -> [String] {
        try step("removeGoneEndpoints")
        let kept = Set(
            (registry.endpoints.compactMap(\.hostInterface) + registry.attachments.map(\.hostInterface)).filter(
                linkExists))
        return control.withLock { control in
            let gone = control.entries.subtracting(kept)
            control.entries.subtract(gone)
            return gone.sorted().map { "removed the map entries of gone interface \($0)" }
        }
    }

    func counters(interfaces: [String]) throws -> TrafficCounters {
        try step("counters")
        return TrafficCounters()
    }

    var flows: FlowTable? { nil }
}
