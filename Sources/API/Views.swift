import FoundationEssentials
import Model

/// The JSON the agent answers with on /v1. Model values plus what a client needs to show
/// them without a second request.

public enum ContainerStatus: String, Codable, Sendable {
    case created, running, exited
}

public struct EndpointView: Codable, Sendable {
    public var endpoint: Endpoint
    public var containerName: String
    public var networkName: String
    public var gateway: IPv4Address?
    public var prefixLength: Int?
    /// Whether its network resolves container names (not the default bridge).
    public var hasNames: Bool
    /// Its network's IPv6 gateway and prefix length, on a network with IPv6.
    public var gateway6: IPv6Address? = nil
    public var prefixLength6: Int? = nil

    public init(
        endpoint: Endpoint, containerName: String, networkName: String, gateway: IPv4Address?,
        prefixLength: Int?, hasNames: Bool = false
    ) {
        self.endpoint = endpoint
        self.containerName = containerName
        self.networkName = networkName
        self.gateway = gateway
        self.prefixLength = prefixLength
        self.hasNames = hasNames
    }
}

public struct NetworkView: Codable, Sendable {
    public var network: Network
    public var endpoints: [EndpointView]
    public init(network: Network, endpoints: [EndpointView]) {
        self.network = network
        self.endpoints = endpoints
    }
}

public struct ContainerView: Codable, Sendable {
    public var container: Container
    public var status: ContainerStatus
    public var endpoints: [EndpointView]
    /// Non-fatal remarks for the user, e.g. published ports ignored on the host network.
    public var warnings: [String]
    /// Its last drops (at most 5), oldest first, as `bridgeport monitor` shows them.
    public var lastDrops: [MonitorEvent]?

    public init(container: Container, status: ContainerStatus, endpoints: [EndpointView], warnings: [String] = []) {
        self.container = container
        self.status = status
        self.endpoints = endpoints
        self.warnings = warnings
    }
}

public struct ConnectRequest: Codable, Sendable {
    public var container: String
    public var ip: String?
    /// --ip6.
    public var ip6: String?
    /// --alias: names the container has on this network.
    public var aliases: [String]?
    public init(container: String, ip: String? = nil, ip6: String? = nil, aliases: [String]? = nil) {
        self.container = container
        self.ip = ip
        self.ip6 = ip6
        self.aliases = aliases
    }
}

/// POST /v1/containers/NAME/wait: how the container's command ended, and what it wrote
/// (its log: empty when it ran attached to the caller's terminal).
public struct WaitResult: Codable, Sendable {
    public var exitCode: Int32
    public var output: String
    public init(exitCode: Int32, output: String) {
        self.exitCode = exitCode
        self.output = output
    }
}

/// POST /v1/networks/prune: Docker's prune filters as given (`until=24h`, `label!=keep`).
public struct NetworkPruneRequest: Codable, Sendable {
    public var filters: [String]
    public init(filters: [String]) { self.filters = filters }
}

/// ... and the names of the networks it removed.
public struct NetworkPruneReport: Codable, Sendable, Equatable {
    public var networksDeleted: [String]
    public init(networksDeleted: [String]) { self.networksDeleted = networksDeleted }
}

/// GET /v1/stats: a container's traffic, summed over its interfaces.
public struct ContainerStats: Codable, Sendable {
    public var id: String
    public var name: String
    public var receiveBytes: UInt64 = 0
    public var receivePackets: UInt64 = 0
    public var transmitBytes: UInt64 = 0
    public var transmitPackets: UInt64 = 0
    public var drops: UInt64 = 0
    /// The last drops (at most 5), oldest first.
    public var lastDrops: [MonitorEvent]?
    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}

/// POST /v1/containers/NAME/allow: who may use a published host port.
public struct AllowRequest: Codable, Sendable {
    public var hostPort: String
    public var sources: [String]
    public var clear: Bool
    public init(hostPort: String, sources: [String], clear: Bool) {
        self.hostPort = hostPort
        self.sources = sources
        self.clear = clear
    }
}

/// Body of every error answer.
public struct ErrorBody: Codable, Sendable, Equatable {
    public var message: String
    /// Set when a client should react specially, e.g. to a command not found (exit 127).
    public var kind: ErrorKind?
    public init(message: String, kind: ErrorKind? = nil) {
        self.message = message
        self.kind = kind
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        message = try container.decode(String.self, forKey: .message)
        // A kind this client does not know is no kind to it: it still shows the message.
        kind = try container.decodeIfPresent(String.self, forKey: .kind).flatMap(ErrorKind.init(rawValue:))
    }
}

/// The errors a client tells apart in an error answer (ErrorBody.kind).
public enum ErrorKind: String, Codable, Sendable, CaseIterable {
    /// The container's command is not in its $PATH (Docker exits 127).
    case commandNotFound = "command_not_found"
    /// The container's command may not be run (Docker exits 126).
    case commandNotExecutable = "command_not_executable"
}

/// One JSON coding for both ends (the model's).
public typealias APICoding = ModelJSON

/// GET /v1/info: what the agent runs and how much it manages.
public struct AgentInfo: Codable, Sendable {
    public var version: String
    public var networks: Int
    public var containers: Int
    public var running: Int
    public var publishedPorts: Int
    public init(version: String, networks: Int, containers: Int, running: Int, publishedPorts: Int) {
        self.version = version
        self.networks = networks
        self.containers = containers
        self.running = running
        self.publishedPorts = publishedPorts
    }
}

public let bridgeportVersion = "0.1.0"

/// GET /v1/flows: a tracked flow, as `conntrack -L` shows one: both tuples, its state and
/// how long it lives on without a packet.
public struct FlowView: Codable, Sendable, Equatable {
    /// One direction: IPv4 flows' addresses are IPv4, IPv6 flows' (NAT66) IPv6.
    public struct Tuple: Codable, Sendable, Equatable {
        public var source: IPAddress
        public var sourcePort: UInt16
        public var destination: IPAddress
        public var destinationPort: UInt16
        public init(source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16) {
            self.source = source
            self.sourcePort = sourcePort
            self.destination = destination
            self.destinationPort = destinationPort
        }
    }

    /// "tcp", "udp", "icmp" or "icmpv6" (echo: the identifier is both ports).
    public var proto: String
    /// "established", "unreplied", ... (bridgeport_flows' state label).
    public var state: String
    /// "published", "masquerade", "hairpin" or "routed" (direct routing to a container).
    public var kind: String
    /// The tuple of the flow's first packet, and the one its replies have.
    public var original: Tuple
    public var reply: Tuple
    /// The container the flow belongs to (a CNI container's ID), if the agent knows it.
    public var container: String?
    public var expiresInSeconds: UInt32

    public init(
        proto: String, state: String, kind: String, original: Tuple, reply: Tuple, container: String?,
        expiresInSeconds: UInt32
    ) {
        self.proto = proto
        self.state = state
        self.kind = kind
        self.original = original
        self.reply = reply
        self.container = container
        self.expiresInSeconds = expiresInSeconds
    }
}

/// DELETE /v1/flows: how many flows were removed.
public struct FlushResult: Codable, Sendable {
    public var flushed: Int
    public init(flushed: Int) { self.flushed = flushed }
}
