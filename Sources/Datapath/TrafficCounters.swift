import BPF
import Model

/// The counters one scrape reads from the maps, keyed for the exporter.
public struct TrafficCounters: Sendable {
    /// Interface name -> ifindex in the agent's namespace.
    public var interfaces: [String: UInt32] = [:]
    public var endpoints: [UInt32: EndpointTraffic] = [:]
    public var drops: [DropKey: UInt64] = [:]
    public var ports: [HostPort: PortTraffic] = [:]
    public var programs: [(name: String, hook: String, runs: UInt64, nanoseconds: UInt64)] = []

    public init() {}

    /// The key of the endpoint's counters: its device's ifindex (see Endpoint.linkIndex).
    public func index(of endpoint: Endpoint) -> UInt32? {
        if let index = endpoint.linkIndex { return UInt32(index) }
        return endpoint.hostInterface.flatMap { interfaces[$0] }
    }
}
