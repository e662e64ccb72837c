import FoundationEssentials
import Model

/// The API's routes under /v1, declared once: the CLI and the CNI plugin build their
/// requests from them, and the agent registers its handlers on them, so that both sides
/// agree on every path, parameter, body and answer.
public enum Routes {
    public static let info = APIRoute<NoParameters, NoContent, AgentInfo>(.get, "info")
    public static let stats = APIRoute<NoParameters, NoContent, [ContainerStats]>(.get, "stats")
    /// Query: `container`.
    public static let flows = APIRoute<NoParameters, NoContent, [FlowView]>(.get, "flows")
    /// Query: `type`, `container`, `network`, `reason`. Not JSON: a stream of MonitorEvent
    /// lines, one per event, until the client goes (or reads too slowly).
    public static let events = APIRoute<NoParameters, NoContent, MonitorEvent>(.get, "events")
    /// Query: `container`.
    public static let flushFlows = APIRoute<NoParameters, NoContent, FlushResult>(.delete, "flows")

    public static let networks = APIRoute<NoParameters, NoContent, [NetworkView]>(.get, "networks")
    public static let createNetwork = APIRoute<NoParameters, NetworkRequest, NetworkView>(.post, "networks")
    public static let network = APIRoute<NetworkReference, NoContent, NetworkView>(.get, "networks/:network")
    public static let removeNetwork = APIRoute<NetworkReference, NoContent, Network>(.delete, "networks/:network")
    public static let pruneNetworks = APIRoute<NoParameters, NetworkPruneRequest, NetworkPruneReport>(
        .post, "networks/prune")
    public static let connect = APIRoute<NetworkReference, ConnectRequest, NoContent>(
        .post, "networks/:network/connect")
    public static let disconnect = APIRoute<NetworkReference, ConnectRequest, NoContent>(
        .post, "networks/:network/disconnect")

    /// Query: `all`.
    public static let containers = APIRoute<NoParameters, NoContent, [ContainerView]>(.get, "containers")
    public static let run = APIRoute<NoParameters, ContainerRequest, ContainerView>(.post, "containers")
    public static let container = APIRoute<ContainerReference, NoContent, ContainerView>(.get, "containers/:container")
    /// Query: `force`.
    public static let removeContainer = APIRoute<ContainerReference, NoContent, Container>(
        .delete, "containers/:container")
    public static let allow = APIRoute<ContainerReference, AllowRequest, ContainerView>(
        .post, "containers/:container/allow")
    public static let logs = APIRoute<ContainerReference, NoContent, String>(.get, "containers/:container/logs")
    /// Query: `timeout`.
    public static let stop = APIRoute<ContainerReference, NoContent, Container>(.post, "containers/:container/stop")
    public static let start = APIRoute<ContainerReference, NoContent, ContainerView>(
        .post, "containers/:container/start")
    /// Answers once the container's command has ended (`docker wait`).
    public static let wait = APIRoute<ContainerReference, NoContent, WaitResult>(.post, "containers/:container/wait")

    // Other runtimes' container interfaces (the CNI plugin).
    public static let attach = APIRoute<NoParameters, AttachmentRequest, Attachment>(.post, "attachments")
    public static let attachMain = APIRoute<NoParameters, MainAttachmentRequest, MainAttachment>(
        .post, "attachments/main")
    public static let collectAttachments = APIRoute<NoParameters, AttachmentCollection, [String]>(
        .post, "attachments/gc")
    public static let attachment = APIRoute<AttachmentID, NoContent, Attachment>(
        .get, "attachments/:container/:interface")
    public static let detach = APIRoute<AttachmentID, NoContent, NoContent>(
        .delete, "attachments/:container/:interface")
}

public enum APIMethod: String, Sendable {
    case get = "GET"
    case post = "POST"
    case delete = "DELETE"
}

/// One route of the API: its method, its path pattern, and the types of its path
/// parameters, body and answer.
public struct APIRoute<Parameters: PathParameters, Body: Codable & Sendable, Answer: Codable & Sendable>: Sendable {
    public let method: APIMethod
    /// The path under /v1 as Hummingbird's router reads it: a parameter is ":name".
    public let pattern: String

    init(_ method: APIMethod, _ pattern: String) {
        let names = pattern.split(separator: "/").filter { $0.first == ":" }.map { String($0.dropFirst()) }
        precondition(names == Parameters.names, "\(pattern) does not take \(Parameters.self)")
        self.method = method
        self.pattern = pattern
    }

    /// The request target for these parameters and query: each parameter percent-encoded.
    public func path(_ parameters: Parameters, query: APIQuery = APIQuery()) -> String {
        var values = parameters.values[...]  // as many as the pattern has parameters (init checks)
        let segments = pattern.split(separator: "/").map { segment in
            segment.first == ":" ? percentEncoded(values.popFirst() ?? "") : String(segment)
        }
        return "/v1/" + segments.joined(separator: "/") + query.text
    }
}

/// The API's one escaper, for path parameters and query values: RFC 3986's unreserved
/// characters stay; everything else, "/" and non-ASCII letters included, is percent-encoded.
func percentEncoded(_ text: String) -> String {
    var encoded = ""
    for byte in text.utf8 {
        if unreserved.contains(byte) {
            encoded.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            encoded +=
                "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
        }
    }
    return encoded
}

/// Undoes percentEncoded (and any other escaper's %XX); nil when a % isn't followed by two
/// hex digits, or the bytes aren't UTF-8.
func percentDecoded(_ text: String) -> String? {
    var bytes: [UInt8] = []
    var rest = text.utf8[...]
    while let byte = rest.popFirst() {
        guard byte == UInt8(ascii: "%") else {
            bytes.append(byte)
            continue
        }
        guard rest.count >= 2, let value = UInt8(String(decoding: rest.prefix(2), as: UTF8.self), radix: 16) else {
            return nil
        }
        bytes.append(value)
        rest = rest.dropFirst(2)
    }
    return String(validating: bytes, as: UTF8.self)
}

private let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

/// A body or answer a route does not have: no request body is sent, and the answer is
/// JSON null.
public struct NoContent: Codable, Sendable, Hashable {
    public init() {}
    public init(from decoder: any Decoder) throws {}
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encodeNil()
    }
}

/// The query parameters routes read; each route reads only those its comment names.
public struct APIQuery: Sendable, Hashable {
    /// GET containers: the stopped ones too (`ps -a`).
    public var all = false
    /// DELETE containers/:container: a running one too (`rm -f`).
    public var force = false
    /// POST containers/:container/stop: seconds to wait before SIGKILL.
    public var timeout: Int?
    /// GET and DELETE flows, GET events: only this container's.
    public var container: ContainerReference?
    /// GET events: which events (nil: drops), only this network's, only drops for this reason.
    public var type: String?
    public var network: NetworkReference?
    public var reason: String?

    public init(
        all: Bool = false, force: Bool = false, timeout: Int? = nil, container: ContainerReference? = nil,
        type: String? = nil, network: NetworkReference? = nil, reason: String? = nil
    ) {
        self.all = all
        self.force = force
        self.timeout = timeout
        self.container = container
        self.type = type
        self.network = network
        self.reason = reason
    }

    /// Reads the query from the request's parameters, `value(name)` being one decoded.
    public init(_ value: (String) -> String?) {
        self.init(
            all: value(Key.all.rawValue) == "1", force: value(Key.force.rawValue) == "1",
            timeout: value(Key.timeout.rawValue).flatMap { Int($0) },
            container: value(Key.container.rawValue).map(ContainerReference.init),
            type: value(Key.type.rawValue), network: value(Key.network.rawValue).map(NetworkReference.init),
            reason: value(Key.reason.rawValue))
    }

    private enum Key: String {
        case all, force
        case timeout = "t"
        case container, type, network, reason
    }

    /// "?all=1&t=10", or "" for an empty query.
    var text: String {
        let items: [(Key, String?)] = [
            (.all, all ? "1" : nil), (.force, force ? "1" : nil),
            (.timeout, timeout.map(String.init)), (.container, container?.rawValue), (.type, type),
            (.network, network?.rawValue), (.reason, reason),
        ]
        let pairs = items.compactMap { key, value in value.map { key.rawValue + "=" + percentEncoded($0) } }
        return pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&")
    }
}
