import API
import Datapath
import FoundationEssentials
import Hummingbird
import Model

/// The control API: HTTP+JSON on the agent's unix socket, under /v1, on the routes the
/// API module declares (Routes).
enum APIRoutes {
    static func router(agent: Agent) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: UnexpectedErrorMiddleware())
        for collection in [status(agent), networks(agent), containers(agent), attachments(agent)] {
            router.addRoutes(collection, atPath: "v1")
        }
        return router
    }

    static func status(_ agent: Agent) -> RouteCollection<BasicRequestContext> {
        RouteCollection(context: BasicRequestContext.self)
            .on(Routes.info) { _, _, _ in await agent.info() }
            .on(Routes.stats) { _, _, _ in try await agent.containerStats() }
            .on(Routes.flows) { _, _, query in try await agent.flows(container: query.container?.rawValue) }
            .on(Routes.flushFlows) { _, _, query in try await agent.flushFlows(container: query.container?.rawValue) }
            .on(RouterPath(Routes.events.pattern), method: .get) { request, _ in
                let items = request.uri.queryParameters
                return try await events(agent, APIQuery { items[Substring($0)].map(String.init) })
            }
    }

    /// GET /v1/events: a monitor's stream, one JSON line per event (chunked), until the client
    /// goes. A client that reads too slowly gets a last "error" line and the end.
    static func events(_ agent: Agent, _ query: APIQuery) async throws -> Response {
        let filter = try await agent.monitorFilter(query)
        guard let hub = agent.monitor else { throw DatapathError.noMonitor }
        hub.update(directory: await agent.eventDirectory())
        return Response(
            status: .ok, headers: [.contentType: "application/x-ndjson"],
            body: ResponseBody { writer in
                // Subscribed here, once the head is out: a client gone before it leaves nothing.
                let encoder = APICoding.encoder
                let subscriber: MonitorHub.Subscriber
                let stream: AsyncStream<MonitorItem>
                do {
                    (subscriber, stream) = try hub.subscribe(filter)
                } catch {
                    try await writer.write(lines([.error("\(error)")], encoder))
                    return try await writer.finish(nil)
                }
                defer { hub.unsubscribe(subscriber) }
                for await item in stream {
                    switch item {
                    case .events(let events):
                        try await writer.write(lines(events, encoder))
                        subscriber.written(events.count)
                    case .heartbeat: try await writer.write(ByteBuffer(string: "\n"))
                    }
                }
                if subscriber.hasOverflowed {
                    let message =
                        "monitor disconnected: it read events more slowly than they came (\(MonitorHub.queueLength) queued)"
                    try await writer.write(lines([.error(message)], encoder))
                } else if subscriber.agentStopped.load(ordering: .relaxed) {
                    try await writer.write(lines([.error("\(MonitorStopped())")], encoder))
                }
                try await writer.finish(nil)
            })
    }

    /// One JSON line per event, in one buffer: one write per read of the ring.
    private static func lines(_ events: [MonitorEvent], _ encoder: JSONEncoder) -> ByteBuffer {
        var buffer = ByteBuffer()
        for event in events {
            buffer.writeBytes((try? encoder.encode(event)) ?? Data("{}".utf8))
            buffer.writeInteger(UInt8(ascii: "\n"))
        }
        return buffer
    }

    static func networks(_ agent: Agent) -> RouteCollection<BasicRequestContext> {
        RouteCollection(context: BasicRequestContext.self)
            .on(Routes.networks) { _, _, _ in await agent.networkViews() }
            .on(Routes.createNetwork, status: .created) { _, request, _ in try await agent.createNetwork(request) }
            .on(Routes.network) { network, _, _ in try await agent.networkView(network.rawValue) }
            .on(Routes.removeNetwork) { network, _, _ in try await agent.removeNetwork(network.rawValue) }
            .on(Routes.pruneNetworks) { _, request, _ in try await agent.pruneNetworks(request) }
            .on(Routes.connect) { network, request, _ in try await agent.connect(network: network.rawValue, request) }
            .on(Routes.disconnect) { network, request, _ in
                try await agent.disconnect(network: network.rawValue, container: request.container)
            }
    }

    static func containers(_ agent: Agent) -> RouteCollection<BasicRequestContext> {
        RouteCollection(context: BasicRequestContext.self)
            .on(Routes.containers) { _, _, query in await agent.containerViews(all: query.all) }
            .on(Routes.run, status: .created) { _, request, _ in try await agent.run(request) }
            .on(Routes.container) { container, _, _ in try await agent.containerView(container.rawValue) }
            .on(Routes.allow) { container, request, _ in try await agent.allow(container.rawValue, request) }
            .on(Routes.logs) { container, _, _ in try await agent.logs(container.rawValue) }
            .on(Routes.stop) { container, _, query in
                try await agent.stop(container.rawValue, timeout: query.timeout ?? 10)
            }
            .on(Routes.start) { container, _, _ in try await agent.start(container.rawValue) }
            .on(Routes.wait) { container, _, _ in try await agent.wait(container.rawValue) }
            .on(Routes.removeContainer) { container, _, query in
                try await agent.remove(container.rawValue, force: query.force)
            }
    }

    /// Other runtimes' container interfaces (the CNI plugin).
    static func attachments(_ agent: Agent) -> RouteCollection<BasicRequestContext> {
        RouteCollection(context: BasicRequestContext.self)
            .on(Routes.attach, status: .created) { _, request, _ in try await agent.attach(request) }
            .on(Routes.attachMain, status: .created) { _, request, _ in try await agent.attachMain(request) }
            .on(Routes.collectAttachments) { _, request, _ in try await agent.collectAttachments(request) }
            .on(Routes.attachment) { id, _, _ in try await agent.attachment(id.containerID, id.interface) }
            .on(Routes.detach) { id, _, _ in try await agent.detachAttachment(id.containerID, id.interface) }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? APICoding.encoder.encode(value)) ?? Data("null".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension RouterMethods {
    /// Registers the handler of an API route: it gets the route's typed parameters, body
    /// and query, and its answer goes out as JSON with `status`.
    @discardableResult
    func on<Parameters, Body, Answer>(
        _ route: APIRoute<Parameters, Body, Answer>, status: HTTPResponse.Status = .ok,
        _ handler: @escaping @Sendable (Parameters, Body, APIQuery) async throws -> Answer
    ) -> Self {
        on(RouterPath(route.pattern), method: route.method.http) { request, context in
            let parameters = Parameters(encoded: try Parameters.names.map { try context.parameters.require($0) })
            let body =
                if let none = NoContent() as? Body { none } else {
                    try await request.decode(as: Body.self, context: context)
                }
            let items = request.uri.queryParameters
            let query = APIQuery { items[Substring($0)].map(String.init) }
            return APIRoutes.json(try await handler(parameters, body, query), status: status)
        }
    }
}

extension RouterMethods {
    /// A route that answers no content (JSON null).
    @discardableResult
    func on<Parameters, Body>(
        _ route: APIRoute<Parameters, Body, NoContent>, status: HTTPResponse.Status = .ok,
        _ handler: @escaping @Sendable (Parameters, Body, APIQuery) async throws -> Void
    ) -> Self {
        on(route, status: status) { parameters, body, query in
            try await handler(parameters, body, query)
            return NoContent()
        }
    }
}

extension APIMethod {
    var http: HTTPRequest.Method {
        switch self {
        case .get: .get
        case .post: .post
        case .delete: .delete
        }
    }
}

/// An error the API answers with its own status and an ErrorBody.
public protocol APIError: HTTPResponseError, CustomStringConvertible {
    var kind: ErrorKind? { get }
}

extension APIError {
    public var kind: ErrorKind? { nil }

    public func response(from request: Request, context: some RequestContext) -> Response {
        APIRoutes.json(ErrorBody(message: description, kind: kind), status: status)
    }
}

extension AgentError: APIError {
    public var status: HTTPResponse.Status {
        switch self {
        case .containerRunning, .containerNotRunning: .conflict
        case .commandNotFound, .commandNotExecutable: .badRequest
        case .attachmentNotFound: .notFound
        case .namespaceNotFound, .incompleteDriverRequest, .startup, .cluster: .internalServerError
        }
    }
}

extension DatapathError: APIError {
    public var status: HTTPResponse.Status { isRequestError ? .badRequest : .internalServerError }
}

extension ModelError: APIError {
    public var status: HTTPResponse.Status {
        switch self {
        case .networkNotFound, .containerNotFound: .notFound
        case .networkExists, .containerExists, .addressInUse, .networkHasEndpoints, .alreadyConnected, .portAllocated,
            .poolOverlap:
            .conflict
        case .predefinedNetwork: .forbidden
        case .hostPortUnavailable: .internalServerError
        default: .badRequest
        }
    }
}

/// Any other error (the dataplane's, the store's) is the agent's fault: a 500 that still
/// tells the client what failed.
struct UnexpectedError: APIError {
    var error: any Error
    var status: HTTPResponse.Status { .internalServerError }
    var description: String { "\(error)" }
}

struct UnexpectedErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            throw UnexpectedError(error: error)
        }
    }
}
