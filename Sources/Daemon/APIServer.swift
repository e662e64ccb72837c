import API
import Datapath
import Foundation
import Hummingbird
import Model

/// The control API: HTTP+JSON on the agent's unix socket, under /v1.
enum APIRoutes {
    static func router(agent: Agent) -> Router<BasicRequestContext> {
        let router = Router()
        let v1 = router.group("v1")

        v1.get("info") { _, _ in json(await agent.info()) }

        v1.get("networks") { _, _ in json(await agent.networkViews()) }
        v1.get("flows") { request, _ in
            try await answer { try await agent.flows(container: request.uri.queryParameters["container"].map(String.init)) }
        }
        v1.delete("flows") { request, _ in
            try await answer { try await agent.flushFlows(container: request.uri.queryParameters["container"].map(String.init)) }
        }
        v1.get("stats") { _, _ in try await answer { try await agent.containerStats() } }
        v1.post("networks") { request, context in
            let body = try await request.decode(as: NetworkRequest.self, context: context)
            return try await answer(status: .created) { try await agent.createNetwork(body) }
        }
        v1.get("networks/:ref") { _, context in
            try await answer { try await agent.networkView(context.parameters.require("ref")) }
        }
        v1.delete("networks/:ref") { _, context in
            try await answer { try await agent.removeNetwork(context.parameters.require("ref")) }
        }
        v1.post("networks/:ref/connect") { request, context in
            let body = try await request.decode(as: ConnectRequest.self, context: context)
            return try await answer { try await agent.connect(network: context.parameters.require("ref"), body); return ErrorBody?.none }
        }
        v1.post("networks/:ref/disconnect") { request, context in
            let body = try await request.decode(as: ConnectRequest.self, context: context)
            return try await answer {
                try await agent.disconnect(network: context.parameters.require("ref"), container: body.container); return ErrorBody?.none
            }
        }

        // Other runtimes' container interfaces (the CNI plugin).
        v1.post("attachments") { request, context in
            let body = try await request.decode(as: AttachmentRequest.self, context: context)
            return try await answer(status: .created) { try await agent.attach(body) }
        }
        v1.post("attachments/gc") { request, context in
            let body = try await request.decode(as: AttachmentCollection.self, context: context)
            return try await answer { try await agent.collectAttachments(body) }
        }
        v1.post("attachments/main") { request, context in
            let body = try await request.decode(as: MainAttachmentRequest.self, context: context)
            return try await answer(status: .created) { try await agent.attachMain(body) }
        }
        v1.get("attachments/:container/:interface") { _, context in
            try await answer {
                try await agent.attachment(context.parameters.require("container"), context.parameters.require("interface"))
            }
        }
        v1.delete("attachments/:container/:interface") { _, context in
            try await answer {
                try await agent.detachAttachment(context.parameters.require("container"), context.parameters.require("interface"))
                return ErrorBody?.none
            }
        }

        v1.get("containers") { request, _ in
            json(await agent.containerViews(all: request.uri.queryParameters["all"] == "1"))
        }
        v1.post("containers") { request, context in
            let body = try await request.decode(as: ContainerRequest.self, context: context)
            return try await answer(status: .created) { try await agent.run(body) }
        }
        v1.get("containers/:ref") { _, context in
            try await answer { try await agent.containerView(context.parameters.require("ref")) }
        }
        v1.post("containers/:ref/allow") { request, context in
            let body = try await request.decode(as: AllowRequest.self, context: context)
            return try await answer { try await agent.allow(context.parameters.require("ref"), body) }
        }
        v1.get("containers/:ref/logs") { _, context in
            try await answer { try await agent.logs(context.parameters.require("ref")) }
        }
        v1.post("containers/:ref/stop") { request, context in
            let timeout = request.uri.queryParameters["t"].flatMap { Int($0) } ?? 10
            return try await answer { try await agent.stop(context.parameters.require("ref"), timeout: timeout) }
        }
        v1.delete("containers/:ref") { request, context in
            let force = request.uri.queryParameters["force"] == "1"
            return try await answer { try await agent.remove(context.parameters.require("ref"), force: force) }
        }
        return router
    }

    /// Runs a request and turns its result, or its error, into a JSON answer.
    static func answer(status: HTTPResponse.Status = .ok, _ body: () async throws -> some Encodable) async throws -> Response {
        do {
            return json(try await body(), status: status)
        } catch let error as ModelError {
            return json(ErrorBody(message: error.description), status: statusCode(for: error))
        } catch let error as AgentError {
            return json(ErrorBody(message: error.description, kind: error.kind), status: statusCode(for: error))
        } catch let error as DatapathError {
            return json(ErrorBody(message: error.description), status: error.isRequestError ? .badRequest : .internalServerError)
        } catch let error as HTTPError {
            throw error
        } catch {
            return json(ErrorBody(message: "\(error)"), status: .internalServerError)
        }
    }

    static func statusCode(for error: ModelError) -> HTTPResponse.Status {
        switch error {
        case .networkNotFound, .containerNotFound: .notFound
        case .networkExists, .containerExists, .addressInUse, .networkHasEndpoints, .alreadyConnected, .portAllocated, .poolOverlap:
            .conflict
        case .predefinedNetwork: .forbidden
        case .hostPortUnavailable: .internalServerError
        default: .badRequest
        }
    }

    static func statusCode(for error: AgentError) -> HTTPResponse.Status {
        switch error {
        case .containerRunning, .containerNotRunning: .conflict
        case .commandNotFound, .commandNotExecutable: .badRequest
        case .attachmentNotFound: .notFound
        case .dataplane, .startup, .cluster: .internalServerError
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? APICoding.encoder.encode(value)) ?? Data("null".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
