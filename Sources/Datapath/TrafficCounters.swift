import BPF
import Model

/// The counters one scrape reads from the maps, keyed for the exporter.
public struct TrafficCounters: Sendable {
    /// Interface name -> ifindex in the agent's namespace, of the interfaces asked about.
    public var interfaces: [String: UInt32] = [:]
    /// Ifindex -> name of the interfaces with drops (those of the host's own interfaces too).
    public var interfaceNames: [UInt32: String] = [:]
    public var endpoints: [UInt32: EndpointTraffic] = [:]
    public var drops: [DropKey: UInt64] = [:]
    public var ports: [HostPort: PortTraffic] = [:]
    public var programs: [(name: String, hook: String, runs: UInt64, nanoseconds: UInt64)] = []

    public init() {}

    /// The host interfaces whose ifindexes key counters: the veths of the registry's
    /// endpoints (a macvlan endpoint's key is its linkIndex) and attachments.
    public static func hostInterfaces(of registry: Registry) -> [String] {
        registry.endpoints.compactMap { $0.linkIndex == nil ? $0.hostInterface : nil }
            + registry.attachments.map(\.hostInterface)
    }

    /// The key of the endpoint's counters: its device's ifindex (see Endpoint.linkIndex).
    public func index(of endpoint: Endpoint) -> UInt32? {
        if let index = endpoint.linkIndex { return UInt32(index) }
        return endpoint.hostInterface.flatMap { interfaces[$0] }
    }
}
