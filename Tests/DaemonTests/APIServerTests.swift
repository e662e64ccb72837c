import API
import Foundation
import Hummingbird
import HummingbirdTesting
import Model
import Testing

@testable import Daemon

/// The agent's side of the API, on handlers that fail as the agent's do.
@Suite struct APIServerTests {
    struct StoreBroke: Error, CustomStringConvertible { var description: String { "disk I/O error" } }

    static func application() -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: UnexpectedErrorMiddleware())
        let routes = RouteCollection(context: BasicRequestContext.self)
            .on(Routes.run, status: .created) { _, request, _ in
                throw AgentError.commandNotFound(request.command.first ?? "")
            }
            .on(Routes.container) { container, _, _ in throw ModelError.containerNotFound(container.rawValue) }
            .on(Routes.stop) { _, _, _ in throw StoreBroke() }
            .on(Routes.detach) { id, _, _ in #expect(id == AttachmentID(containerID: "a/b c", interface: "eth0")) }
            .on(Routes.stats) { _, _, _ in [ContainerStats(id: "c1", name: "one")] }
        router.addRoutes(routes, atPath: "v1")
        return Application(router: router)
    }

    static func errorBody(_ response: TestResponse) throws -> ErrorBody {
        try APICoding.decoder.decode(ErrorBody.self, from: Data(buffer: response.body))
    }

    @Test func agentErrorsCarryTheirStatusAndKind() async throws {
        try await Self.application().test(.router) { client in
            let body = try APICoding.encoder.encode(ContainerRequest(command: ["nope"]))
            let response = try await client.execute(
                uri: Routes.run.path(NoParameters()), method: .post,
                body: ByteBuffer(bytes: body))
            #expect(response.status == .badRequest)
            #expect(
                try Self.errorBody(response)
                    == ErrorBody(message: "exec: \"nope\": executable file not found in $PATH", kind: .commandNotFound))
        }
    }

    @Test func modelErrorsCarryTheirStatus() async throws {
        try await Self.application().test(.router) { client in
            let path = Routes.container.path(ContainerReference("gone"))
            let response = try await client.execute(uri: path, method: .get)
            #expect(response.status == .notFound)
            #expect(try Self.errorBody(response) == ErrorBody(message: "No such container: gone"))
        }
    }

    /// Any other error is a 500 that still says what failed.
    @Test func otherErrorsAreInternalWithTheirDescription() async throws {
        try await Self.application().test(.router) { client in
            let path = Routes.stop.path(ContainerReference("c"), query: APIQuery(timeout: 1))
            let response = try await client.execute(uri: path, method: .post)
            #expect(response.status == .internalServerError)
            #expect(try Self.errorBody(response) == ErrorBody(message: "disk I/O error"))
        }
    }

    @Test func parametersArriveUnescapedAndAnswersAsJSON() async throws {
        try await Self.application().test(.router) { client in
            let id = AttachmentID(containerID: "a/b c", interface: "eth0")
            let detached = try await client.execute(uri: Routes.detach.path(id), method: .delete)
            #expect(detached.status == .ok)
            #expect(String(buffer: detached.body) == "null")
            let stats = try await client.execute(uri: Routes.stats.path(NoParameters()), method: .get)
            let decoded = try APICoding.decoder.decode([ContainerStats].self, from: Data(buffer: stats.body))
            #expect(decoded.map(\.name) == ["one"])
        }
    }
}
