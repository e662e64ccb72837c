import BPF
import Links
import Model

/// What the agent asks of the kernel: the devices of networks and endpoints, the BPF
/// programs on them and the maps they read. `KernelDatapath` does it through rtnetlink
/// and libbpf; the agent's tests use a fake that records calls and fails on demand, so
/// that every change's undo path is tested without a kernel.
///
/// Removals never throw: they are the undo steps, and a link that is already gone is
/// what they want anyway.
public protocol Datapath: Sendable {
    // MARK: Host
    /// The host's own addresses and routes, which automatic subnets must not overlap.
    func hostPrefixes() throws -> [IPv4Network]
    func hostPrefixes6() -> [IPv6Network]
    func linkExists(_ name: String) -> Bool
    func ifindex(ofLink name: String) -> UInt32?
    /// The ifindex the maps know an endpoint by (see Endpoint.linkIndex).
    func ifindex(of endpoint: Endpoint) -> UInt32?
    /// Tells the programs which addresses are the host's (published ports answer on those).
    func refreshHostAddresses() throws

    // MARK: Networks
    /// Makes the network's devices exist; returns what it had to repair.
    func ensureNetwork(_ network: Network) throws -> [String]
    func removeNetwork(_ network: Network)
    /// Tells the programs every network's subnet (isolation, direct-access filtering).
    func syncSubnets(_ registry: Registry) throws

    // MARK: Overlay
    func setVXLANPeers(_ hosts: Set<IPv4Address>?, keepingOthers: Bool) throws
    /// The network's VXLAN device went: its tunnel program's pins, and the overlay map's
    /// entries of the network, which name the device's ifindex, go too.
    func forgetTunnel(of network: Network)
    /// Another host's container: its addresses (IPv6 on a network with IPv6) and MAC on the
    /// network's VXLAN device, its frames to its host.
    func setRemoteEndpoint(
        network: Network, ip: IPv4Address, ip6: IPv6Address?, mac: MACAddress, host: IPv4Address)
        throws
    func removeStaleRemoteEndpoints(network: Network, keeping: Set<IPAddress>) -> [IPAddress]
    func removeRemoteEndpoint(network: Network, ip: IPv4Address, ip6: IPv6Address?, mac: MACAddress, host: IPv4Address)

    // MARK: Endpoints
    func attach(_ endpoint: Endpoint, network: Network, namespace: String) throws
    func configure(_ endpoint: Endpoint, network: Network, namespace: String) throws
    func interfaceExists(_ endpoint: Endpoint, namespace: String) -> Bool
    func detach(_ endpoint: Endpoint, namespace: String)
    func setDefaultRoute(namespace: String, via gateway: IPv4Address?, device: String?) throws
    /// The IPv6 default route (none: `gateway` nil).
    func setDefaultRoute6(namespace: String, via gateway: IPv6Address?, device: String?) throws
    /// Removes the flows of an endpoint that stays (a stopped container's).
    func flushFlows(of endpoint: Endpoint)
    /// A link someone else deleted: what the maps hold for it goes too. Its ifindex is nil
    /// when its event was lost: `removeGoneEndpoints` then finds its entry.
    func forgetRemovedLink(name: String, ifindex: UInt32?, address: IPv4Address?)

    // MARK: Other runtimes' interfaces
    func equip(_ attachment: Attachment, network: Network?) throws
    func unequip(_ attachment: Attachment)
    func addDockerVeth(hostSide: String, peer: String, mac: MACAddress, network: Network, alias: String) throws

    // MARK: Published ports
    func publish(_ container: Container, registry: Registry) throws
    func unpublish(_ container: Container)
    /// Makes the port and allow maps match every container of the registry.
    func syncPorts(_ registry: Registry) throws
    /// True when a socket other than the agent's holds the host port.
    func hostPortInUse(_ port: HostPort) -> Bool

    // MARK: Uplinks
    /// Attaches the uplink program to every uplink but those named in `except`; returns
    /// those it is on.
    func attachUplinks(except: Set<String>) throws -> [LinkInfo]
    /// False for a device whose packets are neither Ethernet nor IP (it gets no program).
    func attachUplink(_ link: LinkInfo) throws -> Bool
    func forgetUplink(name: String)
    func uplinks() throws -> [LinkInfo]

    // MARK: Socket hooks
    /// Attaches them to `cgroup` (nil: the cgroup2 root); returns the cgroup used.
    func attachSocketHooks(cgroup: String?) throws -> String
    func syncNamespaces(containers: [(path: String, source: SocketSource?)]) throws
    /// `dns`: where the container's 127.0.0.11:53 goes (its embedded DNS server's ports).
    func register(containerNamespace path: String, source: SocketSource?, dns: DNSServerPorts?) throws
    func unregister(containerNamespace path: String)
    /// A container's first interface with an address, as its sockets' source.
    func socketSource(_ endpoints: [Endpoint]) -> SocketSource?
    /// A UDP and a TCP socket bound to address inside the container's namespace, at ports
    /// the kernel picks, non-blocking, for the agent's servers there (the embedded DNS);
    /// the caller owns them.
    func boundSockets(namespace path: String, address: IPv4Address) throws -> ServerSockets

    // MARK: Reconcile and reading
    /// Deletes links marked as ours that no network or endpoint of the registry owns.
    func removeOrphans(keeping registry: Registry) throws -> [String]
    /// Removes the map entries (policy, counters, flows) of interfaces that none of the
    /// registry's has the ifindex of: links that went while no agent ran, or unseen.
    func removeGoneEndpoints(keeping registry: Registry) throws -> [String]
    /// Reads every counter map once, with the ifindexes of the host interfaces named
    /// `interfaces` (the endpoints' and attachments' veths).
    func counters(interfaces: [String]) throws -> TrafficCounters
    /// The flow table (connection tracking); nil where there is none (a test fake).
    var flows: FlowTable? { get }
    /// IPv6's flow table (NAT66).
    var flows6: FlowTable6? { get }
    /// The programs' monitor events; nil where there are none (a test fake).
    var monitor: (any MonitorSource)? { get }

    // MARK: Link events
    /// The agent reads the namespace's link events from now on (true), or no longer. Called
    /// by the thread that reads them, before it reads any: it may block.
    func followLinkEvents(_ following: Bool)
    /// Link events as the agent reads them, in order.
    func linkEvents(_ events: [LinkEvents.Event])
}

extension Datapath {
    public var flows6: FlowTable6? { nil }
    public var monitor: (any MonitorSource)? { nil }
    public func followLinkEvents(_ following: Bool) {}
    public func linkEvents(_ events: [LinkEvents.Event]) {}
}

/// Where the agent's monitors get the programs' events: the kernel's ring buffer, or a
/// test's records.
public protocol MonitorSource: Sendable {
    /// Tells the programs which types to emit, at most `rate` per second per CPU and type.
    func set(subscribed: Set<MonitorEventKind>, rate: UInt32) throws
    /// Events lost over the rate limit or to a full ring, by type.
    func lostCounts() throws -> [MonitorEventKind: UInt64]
    /// A reader of the events; one thread polls it.
    func makeReader() throws -> any MonitorReader
}

public protocol MonitorReader: AnyObject {
    /// Waits up to `timeout` milliseconds and returns the records that came.
    func poll(timeout milliseconds: Int32) throws -> [MonitorRecord]
}

extension EventRing: MonitorReader {}

/// The kernel's: bp_events, bp_monitor and bp_events_lost.
struct KernelMonitor: MonitorSource {
    let maps: BridgeportMaps

    func set(subscribed: Set<MonitorEventKind>, rate: UInt32) throws {
        try maps.monitor.set(subscribed: subscribed, rate: rate)
    }
    func lostCounts() throws -> [MonitorEventKind: UInt64] { try maps.monitor.lostCounts() }
    func makeReader() throws -> any MonitorReader { try EventRing(map: maps.events) }
}

/// Whom a container namespace's sockets are, for restricted ports' allow lists: its
/// addresses (of its first interface; IPv6 on a dual-stack network) and that interface's
/// veth, where refusals count.
public struct SocketSource: Sendable, Equatable {
    /// nil on an IPv6-only network.
    public var ip: IPv4Address?
    public var ip6: IPv6Address?
    public var ifindex: UInt32
    public init(ip: IPv4Address?, ip6: IPv6Address? = nil, ifindex: UInt32) {
        (self.ip, self.ip6, self.ifindex) = (ip, ip6, ifindex)
    }
}

/// Every link Bridgeport makes carries the ifalias "bridgeport:<owner id>", so that
/// reconcile can tell its links from the host's.
public enum LinkAlias {
    public static let prefix = "bridgeport:"

    /// The host's uplinks: every link but lo, ours, and the ports of bridges.
    public static func isUplink(_ link: LinkInfo) -> Bool {
        link.name != "lo" && link.masterIndex == 0 && !(link.alias ?? "").hasPrefix(prefix)
    }
}

/// The agent's settings the kernel side needs (from `bridgeport daemon`'s flags).
public struct DatapathConfiguration: Sendable {
    /// Where maps and links are pinned (--bpf-root).
    public var bpfRoot: String
    public var uplinkAttachMode: TCAttachMode
    public var endpointAttachMode: TCAttachMode
    /// Directory holding the compiled BPF objects (--bpf-objects); nil looks for them.
    public var bpfObjectDirectory: String?
    /// This host's address on the underlay, the local end of overlay networks' VXLAN.
    public var advertiseAddress: IPv4Address?
    /// Flows the flow table holds (--max-flows).
    public var maxFlows: Int
    public var flowTimeouts: FlowTimeouts
    /// Turns the kernel's run-time statistics of BPF programs on while the agent runs
    /// (--bpf-stats). Kernel-wide: every BPF program on the host pays for it on every run.
    public var programStatistics: Bool

    public init(
        bpfRoot: String, uplinkAttachMode: TCAttachMode, endpointAttachMode: TCAttachMode,
        bpfObjectDirectory: String?, advertiseAddress: IPv4Address?, maxFlows: Int, flowTimeouts: FlowTimeouts,
        programStatistics: Bool = false
    ) {
        self.bpfRoot = bpfRoot
        self.uplinkAttachMode = uplinkAttachMode
        self.endpointAttachMode = endpointAttachMode
        self.bpfObjectDirectory = bpfObjectDirectory
        self.advertiseAddress = advertiseAddress
        self.maxFlows = maxFlows
        self.flowTimeouts = flowTimeouts
        self.programStatistics = programStatistics
    }
}

/// Sockets the agent serves in a container's namespace, and their ports.
public struct ServerSockets: Sendable {
    public var datagram: Int32
    public var stream: Int32
    public var ports: DNSServerPorts

    public init(datagram: Int32, stream: Int32, ports: DNSServerPorts) {
        self.datagram = datagram
        self.stream = stream
        self.ports = ports
    }
    /// A UDP and a TCP socket on address in the namespace at path, at ports the kernel picks.
    public static func bind(address: IPv4Address, in path: String) throws -> ServerSockets {
        let sockets = try NetworkNamespace.boundSockets(
            [.datagram, .stream], address: address.value, port: 0, in: path)
        return ServerSockets(
            datagram: sockets[0], stream: sockets[1],
            ports: DNSServerPorts(
                udp: NetworkNamespace.localPort(of: sockets[0]), tcp: NetworkNamespace.localPort(of: sockets[1])))
    }
}
