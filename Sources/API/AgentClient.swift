import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

public enum ClientError: Error, CustomStringConvertible {
    case agentNotRunning(socket: String, reason: String)
    /// The socket is root's alone (0600): the API can change the host's network.
    case permissionDenied(socket: String)
    /// The agent refused the request; the message is the agent's.
    case agent(status: UInt, message: String, kind: String?)
    case badAnswer(String)

    public var description: String {
        switch self {
        case let .agentNotRunning(socket, reason):
            "Cannot connect to the Bridgeport agent at unix://\(socket) (\(reason)). Is the agent running? Start it with: bridgeport daemon"
        case let .permissionDenied(socket):
            "permission denied while trying to connect to the Bridgeport agent socket at unix://\(socket): the API is for root only (run the command as root)"
        case let .agent(_, message, _): message
        case let .badAnswer(what): "unexpected answer from the agent: \(what)"
        }
    }

    public var isNotFound: Bool { if case .agent(404, _, _) = self { true } else { false } }
    public var kind: String? { if case let .agent(_, _, kind) = self { kind } else { nil } }
}

/// The CLI's side of the API: HTTP/1.1 + JSON over the agent's unix socket.
public struct AgentClient: Sendable {
    public let socketPath: String

    public static let defaultSocket = "/run/bridgeport.sock"

    /// --socket, then BRIDGEPORT_SOCKET, then the default.
    public init(socketPath: String? = nil) {
        self.socketPath = socketPath ?? ProcessInfo.processInfo.environment["BRIDGEPORT_SOCKET"] ?? AgentClient.defaultSocket
    }

    public func get<Answer: Decodable>(_ path: String, as: Answer.Type = Answer.self) async throws -> Answer {
        try APICoding.decoder.decode(Answer.self, from: try await send(.GET, path, body: nil))
    }

    public func post<Answer: Decodable>(_ path: String, _ body: some Encodable, as: Answer.Type = Answer.self) async throws -> Answer {
        try APICoding.decoder.decode(Answer.self, from: try await send(.POST, path, body: try APICoding.encoder.encode(body)))
    }

    public func post(_ path: String, _ body: some Encodable) async throws {
        _ = try await send(.POST, path, body: try APICoding.encoder.encode(body))
    }

    public func delete(_ path: String) async throws {
        _ = try await send(.DELETE, path, body: nil)
    }

    public func delete<Answer: Decodable>(_ path: String, as: Answer.Type = Answer.self) async throws -> Answer {
        try APICoding.decoder.decode(Answer.self, from: try await send(.DELETE, path, body: nil))
    }

    /// Sends one request on a fresh connection and returns the body of a 2xx answer.
    func send(_ method: HTTPMethod, _ path: String, body: Data?) async throws -> Data {
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch let error as IOError where error.errnoCode == EACCES || error.errnoCode == EPERM {
            throw ClientError.permissionDenied(socket: socketPath)
        } catch {
            throw ClientError.agentNotRunning(socket: socketPath, reason: "\(error)")
        }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
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
                case let .head(head): status = head.status
                case var .body(chunk): answer.writeBuffer(&chunk)
                case .end:
                    let data = Data(answer.readableBytesView)
                    guard let status else { throw ClientError.badAnswer("no status line") }
                    guard (200..<300).contains(status.code) else {
                        let body = (try? APICoding.decoder.decode(ErrorBody.self, from: data))
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
