import Model

/// `bridgeport monitor --type`: which events a monitor wants.
public enum MonitorType: String, Codable, Sendable, CaseIterable {
    case drop, flow, all
}

/// One line of GET /v1/events (`bridgeport monitor --format json`): a drop or a flow's
/// change, with who it is about. Fields a type does not have are left out.
public struct MonitorEvent: Codable, Sendable, Equatable {
    /// "drop" or "flow"; "error" for the agent's last word to a monitor it disconnects.
    public var type: String
    /// RFC 3339 with nanoseconds, UTC.
    public var time: String
    /// The container's name (another runtime's container: its ID), when the agent knows it.
    public var container: String?
    public var containerID: String?
    public var network: String?
    /// The container's host-side veth, or the host's interface for drops of the host.
    public var interface: String?
    /// "tcp", "udp", "icmp", "icmpv6", a protocol number, or an ethertype ("arp", "0x88cc").
    public var proto: String?

    // Drops
    public var reason: String?
    /// From the container's point of view: "ingress" (toward it) or "egress" (from it).
    public var direction: String?
    /// The packet's length; absent for a refused socket call.
    public var length: UInt32?
    /// Refused by a socket hook (connect() or sendmsg() failed with EPERM).
    public var refusedCall: Bool?
    /// The dropped packet's tuple (a refused call's: its destination only).
    public var source: String?
    public var sourcePort: UInt16?
    public var destination: String?
    public var destinationPort: UInt16?

    // Flows
    /// "new", "established", "closed", "expired", "evicted" or "flushed".
    public var change: String?
    /// "published", "masquerade", "hairpin" or "routed".
    public var kind: String?
    public var state: String?
    public var original: FlowView.Tuple?
    public var reply: FlowView.Tuple?
    /// Both ways, at a counted flow's end ("closed", "expired", "evicted", "flushed").
    public var packets: UInt64?
    public var bytes: UInt64?

    /// "error": why the agent ended the stream.
    public var message: String?

    public init(type: String, time: String) {
        self.type = type
        self.time = time
    }
}

extension MonitorEvent {
    /// A drop's source and destination as "10.0.0.2:80", "[fd00::2]:80", or the address alone
    /// where the event has no port.
    public var sourceText: String? { MonitorEvent.text(source, sourcePort) }
    public var destinationText: String? { MonitorEvent.text(destination, destinationPort) }

    private static func text(_ address: String?, _ port: UInt16?) -> String? {
        guard let address else { return nil }
        guard let port else { return address }
        return address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}
