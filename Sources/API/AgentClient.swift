import FoundationEssentials
import Glibc
import Model

public enum ClientError: Error, CustomStringConvertible {
    case agentNotRunning(socket: String, reason: String)
    /// The socket is root's alone (0600): the API can change the host's network.
    case permissionDenied(socket: String)
    /// The agent refused the request; the message is the agent's.
    case agent(status: UInt, message: String, kind: ErrorKind?)
    case badAnswer(String)

    public var description: String {
        switch self {
        case .agentNotRunning(let socket, let reason):
            "Cannot connect to the Bridgeport agent at unix://\(socket) (\(reason)). Is the agent running? "
                + "Start it with: bridgeport daemon"
        case .permissionDenied(let socket):
            "permission denied while trying to connect to the Bridgeport agent socket at unix://\(socket): "
                + "the API is for root only (run the command as root)"
        case .agent(_, let message, _): message
        case .badAnswer(let what): "unexpected answer from the agent: \(what)"
        }
    }

    public var isNotFound: Bool { if case .agent(404, _, _) = self { true } else { false } }
    public var kind: ErrorKind? { if case .agent(_, _, let kind) = self { kind } else { nil } }
}

/// The CLI's side of the API: HTTP/1.1 + JSON over the agent's unix socket.
public struct AgentClient: Sendable {
    public let socketPath: String

    public static let defaultSocket = "/run/bridgeport.sock"

    /// --socket, then BRIDGEPORT_SOCKET, then the default.
    public init(socketPath: String? = nil) {
        // getenv: ProcessInfo costs more to set up than this one lookup.
        self.socketPath =
            socketPath ?? getenv("BRIDGEPORT_SOCKET").map { String(cString: $0) } ?? AgentClient.defaultSocket
    }

    /// Sends a route's request and decodes its answer.
    @discardableResult
    public func send<Parameters, Body, Answer>(
        _ route: APIRoute<Parameters, Body, Answer>, _ parameters: Parameters,
        body: Body, query: APIQuery = APIQuery()
    ) async throws -> Answer {
        let content = body is NoContent ? nil : try APICoding.encoder.encode(body)
        let answer = try await send(route.method, route.path(parameters, query: query), body: content)
        if let none = NoContent() as? Answer { return none }
        return try APICoding.decoder.decode(Answer.self, from: answer)
    }

    @discardableResult
    public func send<Parameters, Answer>(
        _ route: APIRoute<Parameters, NoContent, Answer>, _ parameters: Parameters,
        query: APIQuery = APIQuery()
    ) async throws -> Answer {
        try await send(route, parameters, body: NoContent(), query: query)
    }

    @discardableResult
    public func send<Body, Answer>(_ route: APIRoute<NoParameters, Body, Answer>, body: Body) async throws -> Answer {
        try await send(route, NoParameters(), body: body)
    }

    public func send<Answer>(
        _ route: APIRoute<NoParameters, NoContent, Answer>,
        query: APIQuery = APIQuery()
    ) async throws -> Answer {
        try await send(route, NoParameters(), body: NoContent(), query: query)
    }

    /// Sends one request on a fresh connection and returns the body of a 2xx answer. A plain
    /// blocking socket: the CLI sends one request at a time, and starting an event loop's
    /// threads costs more than the exchange itself.
    func send(_ method: APIMethod, _ path: String, body: Data?) async throws -> Data {
        let connection = try AgentConnection(socketPath)
        defer { connection.close() }
        var head = "\(method.rawValue) \(path) HTTP/1.1\r\nHost: bridgeport\r\nConnection: close\r\n"
        head += "Content-Length: \(body?.count ?? 0)\r\n"
        if body != nil { head += "Content-Type: application/json\r\n" }
        // One write: a request without a body is complete with its head, so the agent may
        // answer and close before a separate write of the body would go out.
        try connection.write(Data((head + "\r\n").utf8) + (body ?? Data()))
        let answer = try HTTPAnswer(reading: connection)
        guard (200..<300).contains(answer.status) else {
            let error =
                (try? APICoding.decoder.decode(ErrorBody.self, from: answer.body))
                ?? ErrorBody(message: String(decoding: answer.body, as: UTF8.self))
            throw ClientError.agent(status: answer.status, message: error.message, kind: error.kind)
        }
        return answer.body
    }
}

extension AgentClient {
    /// GET /v1/events: calls `line` with each line (a JSON MonitorEvent) the agent streams,
    /// until it ends the stream or `line` returns false. Blocks its thread while it waits.
    public func monitor(query: APIQuery, line: (Data) throws -> Bool) throws {
        let connection = try AgentConnection(socketPath)
        defer { connection.close() }
        let head = "GET \(Routes.events.path(NoParameters(), query: query)) HTTP/1.1\r\nHost: bridgeport\r\n\r\n"
        try connection.write(Data(head.utf8))
        var input = HTTPInput(connection)
        let answer = try HTTPHead(&input)
        guard (200..<300).contains(answer.status) else {
            let body = try answer.body(&input)
            let error =
                (try? APICoding.decoder.decode(ErrorBody.self, from: body))
                ?? ErrorBody(message: String(decoding: body, as: UTF8.self))
            throw ClientError.agent(status: answer.status, message: error.message, kind: error.kind)
        }
        // Chunks may split or join lines: whole lines are cut off what has come so far.
        var pending = Data()
        while let chunk = try answer.nextChunk(&input) {
            pending += chunk
            var start = pending.startIndex
            while let end = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                defer { start = end + 1 }
                guard end > start else { continue }  // the agent's heartbeat
                guard try line(pending[start..<end]) else { return }
            }
            pending.removeSubrange(pending.startIndex..<start)
        }
    }
}

/// A connected, blocking unix stream socket to the agent.
private struct AgentConnection {
    let descriptor: Int32

    init(_ path: String) throws {
        // The reasons in the messages are those the CLI has always given (SwiftNIO's).
        guard path.utf8.count <= 103 else {
            throw ClientError.agentNotRunning(socket: path, reason: "unixDomainSocketPathTooLong")
        }
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ClientError.agentNotRunning(socket: path, reason: Self.reason("socket")) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let error = errno
            close()
            if error == EACCES || error == EPERM { throw ClientError.permissionDenied(socket: path) }
            throw ClientError.agentNotRunning(
                socket: path, reason: Self.reason("connect(descriptor:addr:size:)", error))
        }
    }

    static func reason(_ call: String, _ error: Int32 = errno) -> String {
        "\(call): \(String(cString: strerror(error)))) (errno: \(error))"
    }

    func write(_ data: Data) throws {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var sent = 0
            while sent < bytes.count {
                // MSG_NOSIGNAL: an agent gone away is an error, not a SIGPIPE.
                let count = Glibc.send(descriptor, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw ClientError.badAnswer(Self.reason("write")) }
                sent += count
            }
        }
    }

    /// Up to `limit` more bytes; empty at the end of the stream.
    func read(limit: Int = 65536) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: limit)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, limit, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw ClientError.badAnswer(Self.reason("read")) }
            return Array(buffer[..<count])
        }
    }

    func close() { _ = Glibc.close(descriptor) }
}

/// An HTTP/1.1 answer read off a connection: its status and its whole body (by
/// Content-Length, chunked, or up to the end of the stream).
private struct HTTPAnswer {
    var status: UInt
    var body: Data

    init(reading connection: AgentConnection) throws {
        var input = HTTPInput(connection)
        let head = try HTTPHead(&input)
        status = head.status
        body = try head.body(&input)
    }
}

/// An answer's status line and the fields that say how its body comes.
private struct HTTPHead {
    var status: UInt
    var length: Int?
    var chunked = false

    init(_ input: inout HTTPInput) throws {
        let statusLine = try input.line()
        let fields = statusLine.split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/1."), let status = UInt(fields[1]) else {
            throw ClientError.badAnswer("no status line")
        }
        self.status = status
        while true {
            let line = try input.line()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingSpaces()
            if name == "content-length" { length = Int(value) }
            if name == "transfer-encoding" { chunked = value.lowercased().hasSuffix("chunked") }
        }
    }

    var hasBody: Bool { !(status == 204 || status == 304 || (100..<200).contains(status)) }

    /// The whole body.
    func body(_ input: inout HTTPInput) throws -> Data {
        guard hasBody else { return Data() }
        if chunked {
            var body = Data()
            while let chunk = try nextChunk(&input) { body += chunk }
            return body
        }
        if let length { return Data(try input.bytes(length)) }
        return Data(try input.rest())
    }

    /// The next chunk of a chunked body (nil after the last); a body that is not chunked
    /// comes as one.
    func nextChunk(_ input: inout HTTPInput) throws -> Data? {
        guard chunked else { return nil }
        let size = try input.line().prefix { $0 != ";" }
        guard let count = Int(size.trimmingSpaces(), radix: 16) else {
            throw ClientError.badAnswer("a bad chunk size")
        }
        if count == 0 { return nil }
        let chunk = Data(try input.bytes(count))
        _ = try input.line()
        return chunk
    }
}

/// The bytes of a connection, read as they are needed.
private struct HTTPInput {
    let connection: AgentConnection
    var buffer: [UInt8] = []
    var start = 0

    init(_ connection: AgentConnection) { self.connection = connection }

    /// Reads more; false at the end of the stream.
    private mutating func fill() throws -> Bool {
        let more = try connection.read()
        buffer.removeFirst(start)
        start = 0
        buffer += more
        return !more.isEmpty
    }

    /// The next line, without its CRLF.
    mutating func line() throws -> String {
        while true {
            if let end = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                var line = buffer[start..<end]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                start = end + 1
                return String(decoding: line, as: UTF8.self)
            }
            guard try fill() else { throw HTTPInput.cut }
        }
    }

    mutating func bytes(_ count: Int) throws -> [UInt8] {
        while buffer.count - start < count { guard try fill() else { throw HTTPInput.cut } }
        defer { start += count }
        return Array(buffer[start..<start + count])
    }

    mutating func rest() throws -> [UInt8] {
        while try fill() {}
        return Array(buffer[start...])
    }

    static let cut = ClientError.badAnswer("the connection closed before the answer ended")
}
