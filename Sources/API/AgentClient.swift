import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

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
        self.socketPath =
            socketPath ?? ProcessInfo.processInfo.environment["BRIDGEPORT_SOCKET"]
            ?? AgentClient.defaultSocket
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

    /// Sends one request on a fresh connection and returns the body of a 2xx answer.
    func send(_ method: APIMethod, _ path: String, body: Data?) async throws -> Data {
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch let error as IOError where error.errnoCode == EACCES || error.errnoCode == EPERM {
            throw ClientError.permissionDenied(socket: socketPath)
        } catch {
            throw ClientError.agentNotRunning(socket: socketPath, reason: "\(error)")
        }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method.nio, uri: path)
            head.headers.add(name: "Host", value: "bridgeport")
            head.headers.add(name: "Connection", value: "close")
            head.headers.add(name: "Content-Length", value: "\(body?.count ?? 0)")
            if body != nil { head.headers.add(name: "Content-Type", value: "application/json") }
            // One write: a request without a body is complete with its head, so the agent may
            // answer and close before a separate write of the end would go out.
            var parts: [HTTPClientRequestPart] = [.head(head)]
            if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            parts.append(.end(nil))
            try await outbound.write(contentsOf: parts)

            var status: HTTPResponseStatus?
            var answer = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let head): status = head.status
                case .body(var chunk): answer.writeBuffer(&chunk)
                case .end:
                    let data = Data(answer.readableBytesView)
                    guard let status else { throw ClientError.badAnswer("no status line") }
                    guard (200..<300).contains(status.code) else {
                        let body =
                            (try? APICoding.decoder.decode(ErrorBody.self, from: data))
                            ?? ErrorBody(message: String(decoding: data, as: UTF8.self))
                        throw ClientError.agent(status: status.code, message: body.message, kind: body.kind)
                    }
                    return data
                }
            }
            throw ClientError.badAnswer("the connection closed before the answer ended")
        }
    }
}

extension APIMethod {
    var nio: HTTPMethod {
        switch self {
        case .get: .GET
        case .post: .POST
        case .delete: .DELETE
        }
    }
}
