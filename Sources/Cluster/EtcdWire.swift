import FoundationEssentials

// The pure parts of the etcd client: endpoint parsing, key ranges, line splitting and the JSON shapes of
// etcd's v3 gRPC-JSON gateway. In that JSON, keys and values are base64, int64 fields are strings, and
// fields holding their default value (0, false, "", PUT) are left out.

/// Where etcd listens for clients.
struct EtcdEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// etcd's registered client port, used when the endpoint names none.
    static let defaultPort = 2379

    var scheme: String
    var host: String
    var port: Int

    /// Accepts "etcd://HOST[:PORT]" (the --cluster-store form, plain HTTP), "http://HOST[:PORT]" and
    /// "https://HOST[:PORT]". IPv6 hosts go in brackets.
    init(parsing text: String) throws {
        func invalid(_ reason: String) -> EtcdError { .invalidEndpoint(text, reason: reason) }

        let isSpace = { (character: Character) in character == " " || character == "\t" }
        let trimmed = String(text.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
        guard let separator = trimmed.firstRange(of: "://") else { throw invalid("no scheme") }
        switch trimmed[..<separator.lowerBound].lowercased() {
        case "etcd", "http": scheme = "http"
        case "https": scheme = "https"
        case let other: throw invalid("unsupported scheme \"\(other)\"")
        }
        var rest = trimmed[separator.upperBound...]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains(where: { "/?#@".contains($0) }) else {
            throw invalid("a path, query or user name is not supported")
        }

        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw invalid("unclosed \"[\"") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("unexpected \"\(after)\" after the address") }
                portText = after.dropFirst()
            }
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw invalid("\"\(host)\" is not an IPv6 address")
            }
        } else {
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else {
                throw invalid("put an IPv6 address in brackets, as in etcd://[fd00::1]:2379")
            }
            host = String(parts[0])
            portText = parts.count == 2 ? parts[1] : nil
            guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") })
            else {
                throw invalid("\"\(host)\" is not a host name or address")
            }
        }
        guard !host.isEmpty else { throw invalid("no host") }

        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw invalid("\"\(portText)\" is not a port number")
            }
            self.port = port
        } else {
            port = Self.defaultPort
        }
    }

    /// The base URL of the gateway, without a trailing slash.
    var url: String {
        host.contains(":") ? "\(scheme)://[\(host)]:\(port)" : "\(scheme)://\(host):\(port)"
    }

    var description: String { url }
}

/// The end of the key range that covers every key starting with `prefix`: the prefix with its last byte
/// raised by one, trailing 0xff bytes dropped first since they cannot be raised. A prefix of only 0xff bytes
/// (or an empty one) has no such end; etcd reads range_end "\0" as "every key from key on".
func prefixRangeEnd(_ prefix: [UInt8]) -> [UInt8] {
    var end = prefix
    while let last = end.last {
        if last < 0xff {
            end[end.count - 1] = last + 1
            return end
        }
        end.removeLast()
    }
    return [0]
}

/// Splits a byte stream into lines. The chunks of an HTTP body end anywhere: a chunk may hold part of a
/// line, or several lines.
struct LineSplitter {
    /// A line longer than this is not from etcd (whose messages are a few MiB at most); stop before it eats memory.
    var limit = 64 << 20
    private var pending: [UInt8] = []

    /// The lines completed by `chunk`, without their "\n" (or "\r\n"). Empty lines are dropped.
    mutating func append<Bytes: Collection>(_ chunk: Bytes) throws -> [[UInt8]] where Bytes.Element == UInt8 {
        var lines: [[UInt8]] = []
        var start = chunk.startIndex
        while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
            pending.append(contentsOf: chunk[start..<newline])
            if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
            if !pending.isEmpty { lines.append(pending) }
            pending.removeAll(keepingCapacity: true)
            start = chunk.index(after: newline)
        }
        pending.append(contentsOf: chunk[start...])
        guard pending.count <= limit else {
            throw EtcdError.badAnswer("a line of the stream is longer than \(limit) bytes")
        }
        return lines
    }

    /// What is left when the stream ends: a last line with no "\n" after it, if any.
    mutating func finish() -> [UInt8]? {
        defer { pending = [] }
        return pending.isEmpty ? nil : pending
    }
}

// MARK: - JSON shapes

/// An int64 of the gateway: a JSON string when it writes one, also read from a JSON number.
struct WireInt64: Codable, Hashable, Sendable {
    var value: Int64

    init(_ value: Int64) { self.value = value }

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard let value = Int64(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(text)\" is not an int64")
            }
            self.value = value
        } else {
            value = try container.decode(Int64.self)
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(String(value))
    }
}

/// Bytes as the gateway writes them: base64.
struct WireBytes: Codable, Hashable, Sendable {
    var data: Data

    init(_ data: Data) { self.data = data }
    init(_ text: String) { data = Data(text.utf8) }
    init(_ bytes: [UInt8]) { data = Data(bytes) }

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let data = Data(base64Encoded: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(text)\" is not base64")
        }
        self.data = data
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(data.base64EncodedString())
    }
}

struct WireHeader: Decodable {
    var revision: WireInt64?
}

struct WireKeyValue: Decodable {
    var key: WireBytes?
    var value: WireBytes?
    var createRevision: WireInt64?
    var modRevision: WireInt64?
    var lease: WireInt64?

    enum CodingKeys: String, CodingKey {
        case key, value, lease
        case createRevision = "create_revision"
        case modRevision = "mod_revision"
    }

    func model() throws -> EtcdKeyValue {
        guard let key else { throw EtcdError.badAnswer("a key-value without a key") }
        return EtcdKeyValue(
            // Keys are written by this client as UTF-8; a foreign key that is not is shown with U+FFFD rather than failing the whole answer.
            key: String(decoding: key.data, as: UTF8.self),
            value: value?.data ?? Data(),
            modRevision: modRevision?.value ?? 0,
            createRevision: createRevision?.value ?? 0,
            lease: lease?.value ?? 0
        )
    }
}

/// The error body of a non-200 answer: {"error":..,"message":..,"code":..} (code is the gRPC code).
struct WireError: Decodable {
    var error: String?
    var message: String?
    var code: Int?
}

/// An error inside a 200 stream. grpc-gateway writes {"error":{"grpc_code":..,"message":..}} there; older
/// gateways write a plain string.
struct WireStreamError: Decodable {
    var code: Int?
    var message: String

    enum CodingKeys: String, CodingKey {
        case grpcCode = "grpc_code"
        case code, message
    }

    init(from decoder: Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            message = text
            return
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        code =
            try container.decodeIfPresent(Int.self, forKey: .grpcCode)
            ?? container.decodeIfPresent(Int.self, forKey: .code)
        message = try container.decodeIfPresent(String.self, forKey: .message) ?? "no message"
    }
}

/// One line of a streaming endpoint (/v3/watch, /v3/lease/keepalive): {"result":{..}} or {"error":..}.
struct WireStreamLine<Result: Decodable>: Decodable {
    var result: Result?
    var error: WireStreamError?
}

struct WireRangeRequest: Encodable {
    var key: WireBytes
    var rangeEnd: WireBytes?

    enum CodingKeys: String, CodingKey {
        case key
        case rangeEnd = "range_end"
    }
}

struct WireRangeResponse: Decodable {
    var header: WireHeader?
    var kvs: [WireKeyValue]?
}

struct WirePutRequest: Encodable {
    var key: WireBytes
    var value: WireBytes
    var lease: WireInt64?
}

/// /v3/kv/deleterange takes the same key range as /v3/kv/range.
typealias WireDeleteRangeRequest = WireRangeRequest

struct WireTxnRequest: Encodable {
    struct Compare: Encodable {
        var key: WireBytes
        var target: String
        var result: String
        var createRevision: WireInt64? = nil
        var modRevision: WireInt64? = nil

        enum CodingKeys: String, CodingKey {
            case key, target, result
            case createRevision = "create_revision"
            case modRevision = "mod_revision"
        }
    }

    struct RequestOp: Encodable {
        var requestPut: WirePutRequest? = nil
        var requestDeleteRange: WireDeleteRangeRequest? = nil

        enum CodingKeys: String, CodingKey {
            case requestPut = "request_put"
            case requestDeleteRange = "request_delete_range"
        }
    }

    var compare: [Compare]
    var success: [RequestOp]

    /// Put `key` only if it does not exist (its create revision is 0).
    static func create(key: WireBytes, value: WireBytes, lease: WireInt64?) -> Self {
        create([(key, value)], lease: lease)
    }

    /// Put every key only if none of them exists: all or nothing.
    static func create(_ entries: [(key: WireBytes, value: WireBytes)], lease: WireInt64?) -> Self {
        WireTxnRequest(
            compare: entries.map {
                Compare(key: $0.key, target: "CREATE", result: "EQUAL", createRevision: WireInt64(0))
            },
            success: entries.map { RequestOp(requestPut: WirePutRequest(key: $0.key, value: $0.value, lease: lease)) }
        )
    }

    /// Delete `key` only if it was last written at `revision` (nobody wrote it since it was read).
    static func delete(key: WireBytes, ifModRevision revision: Int64) -> Self {
        WireTxnRequest(
            compare: [Compare(key: key, target: "MOD", result: "EQUAL", modRevision: WireInt64(revision))],
            success: [RequestOp(requestDeleteRange: WireDeleteRangeRequest(key: key))])
    }
}

struct WireTxnResponse: Decodable {
    var header: WireHeader?
    /// Absent when false.
    var succeeded: Bool?
}

struct WireLeaseGrantRequest: Encodable {
    var ttl: WireInt64

    enum CodingKeys: String, CodingKey {
        case ttl = "TTL"
    }
}

struct WireLeaseGrantResponse: Decodable {
    var id: WireInt64?
    var ttl: WireInt64?
    var error: String?

    enum CodingKeys: String, CodingKey {
        case id = "ID"
        case ttl = "TTL"
        case error
    }
}

/// The request of /v3/lease/keepalive and /v3/lease/revoke.
struct WireLeaseRequest: Encodable {
    var id: WireInt64

    enum CodingKeys: String, CodingKey {
        case id = "ID"
    }
}

struct WireLeaseKeepAliveResponse: Decodable {
    var id: WireInt64?
    /// Absent (0) when the lease is gone.
    var ttl: WireInt64?

    enum CodingKeys: String, CodingKey {
        case id = "ID"
        case ttl = "TTL"
    }
}

struct WireWatchRequest: Encodable {
    struct Create: Encodable {
        var key: WireBytes
        var rangeEnd: WireBytes
        var startRevision: WireInt64

        enum CodingKeys: String, CodingKey {
            case key
            case rangeEnd = "range_end"
            case startRevision = "start_revision"
        }
    }

    var createRequest: Create

    enum CodingKeys: String, CodingKey {
        case createRequest = "create_request"
    }
}

struct WireWatchResponse: Decodable {
    struct Event: Decodable {
        /// Absent for PUT, the default of the enum.
        var type: String?
        var kv: WireKeyValue?
    }

    var header: WireHeader?
    var created: Bool?
    var canceled: Bool?
    var compactRevision: WireInt64?
    var cancelReason: String?
    var events: [Event]?

    enum CodingKeys: String, CodingKey {
        case header, created, canceled, events
        case compactRevision = "compact_revision"
        case cancelReason = "cancel_reason"
    }
}

// MARK: - Reading answers

/// What one line of a watch stream says, when it does not end the watch.
enum WatchMessage: Equatable {
    /// etcd set the watch up.
    case created
    case events([EtcdWatchEvent])
    /// Nothing changed (a progress notification).
    case progress
}

enum EtcdWire {
    static let encoder = JSONEncoder()

    static func encode(_ value: some Encodable) -> Data {
        // The request shapes hold only strings, bools and arrays of them: encoding cannot fail.
        try! encoder.encode(value)
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw EtcdError.badAnswer("cannot read \(snippet(data)) (\(error))")
        }
    }

    /// The start of an answer, for error messages.
    static func snippet(_ data: Data) -> String {
        let text = String(decoding: data.prefix(200), as: UTF8.self)
        return data.count > 200 ? "\"\(text)...\"" : "\"\(text)\""
    }

    /// The error of a non-200 answer.
    static func statusError(httpStatus: Int, body: Data, path: String) -> EtcdError {
        if let wire = try? JSONDecoder().decode(WireError.self, from: body), let message = wire.message ?? wire.error {
            return .status(code: wire.code ?? httpStatus, message: message)
        }
        // Not the gateway's JSON: a proxy, another server, or an etcd too old for the /v3 paths.
        return .badAnswer("HTTP \(httpStatus) for \(path): \(snippet(body))")
    }

    static func range(_ data: Data) throws -> (values: [EtcdKeyValue], revision: Int64) {
        let answer = try decode(WireRangeResponse.self, from: data)
        let values = try (answer.kvs ?? []).map { try $0.model() }
        return (values, answer.header?.revision?.value ?? 0)
    }

    static func txnSucceeded(_ data: Data) throws -> Bool {
        try decode(WireTxnResponse.self, from: data).succeeded ?? false
    }

    static func leaseGranted(_ data: Data) throws -> Int64 {
        let answer = try decode(WireLeaseGrantResponse.self, from: data)
        if let error = answer.error, !error.isEmpty { throw EtcdError.status(code: 0, message: error) }
        guard let id = answer.id?.value, id != 0 else { throw EtcdError.badAnswer("a lease grant without an ID") }
        return id
    }

    /// The remaining TTL from the answer of /v3/lease/keepalive (a stream of one line).
    static func keepAliveTTL(_ data: Data, lease: Int64) throws -> Int64 {
        var splitter = LineSplitter()
        var lines = try splitter.append(data)
        if let last = splitter.finish() { lines.append(last) }
        guard let line = lines.first else { throw EtcdError.badAnswer("an empty keepalive answer") }
        let message = try decode(WireStreamLine<WireLeaseKeepAliveResponse>.self, from: Data(line))
        if let error = message.error { throw EtcdError.status(code: error.code ?? 0, message: error.message) }
        guard let ttl = message.result?.ttl?.value, ttl > 0 else { throw EtcdError.leaseExpired(lease) }
        return ttl
    }

    /// Reads one line of /v3/watch. Throws the errors that end the watch: .compacted, .watchCanceled, .status.
    static func watchMessage<Line: Collection>(_ line: Line) throws -> WatchMessage where Line.Element == UInt8 {
        let message = try decode(WireStreamLine<WireWatchResponse>.self, from: Data(line))
        if let error = message.error { throw EtcdError.status(code: error.code ?? 0, message: error.message) }
        guard let result = message.result else {
            throw EtcdError.badAnswer("a watch message without a result: \(snippet(Data(line)))")
        }
        // A compacted watch comes with canceled too: compaction is the more useful reason.
        if let revision = result.compactRevision?.value, revision > 0 { throw EtcdError.compacted(revision: revision) }
        if result.canceled == true {
            throw EtcdError.watchCanceled(
                reason: result.cancelReason.flatMap { $0.isEmpty ? nil : $0 } ?? "no reason given")
        }
        let events = try (result.events ?? []).map { event -> EtcdWatchEvent in
            guard let kv = try event.kv?.model() else { throw EtcdError.badAnswer("a watch event without a key-value") }
            switch event.type ?? "PUT" {
            case "PUT": return .put(kv)
            case "DELETE": return .delete(key: kv.key, modRevision: kv.modRevision)
            case let other: throw EtcdError.badAnswer("a watch event of unknown type \(other)")
            }
        }
        if !events.isEmpty { return .events(events) }
        return result.created == true ? .created : .progress
    }
}
