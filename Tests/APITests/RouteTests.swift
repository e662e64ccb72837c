import API
import Foundation
import Model
import Testing

@Suite struct RouteTests {
    @Test func pathsFillParametersEscapedOnce() {
        #expect(Routes.info.path(NoParameters()) == "/v1/info")
        #expect(Routes.container.path(ContainerReference("web")) == "/v1/containers/web")
        #expect(
            Routes.stop.path(ContainerReference("web"), query: APIQuery(timeout: 3))
                == "/v1/containers/web/stop?t=3")
        #expect(Routes.connect.path(NetworkReference("my-net_1.0~x")) == "/v1/networks/my-net_1.0~x/connect")
        #expect(
            Routes.attachment.path(AttachmentID(containerID: "a/b c", interface: "eth0"))
                == "/v1/attachments/a%2Fb%20c/eth0")
        #expect(Routes.container.path(ContainerReference("é?%")) == "/v1/containers/%C3%A9%3F%25")
    }

    @Test func queriesInOneOrder() {
        #expect(Routes.containers.path(NoParameters(), query: APIQuery()) == "/v1/containers")
        #expect(Routes.containers.path(NoParameters(), query: APIQuery(all: true)) == "/v1/containers?all=1")
        #expect(
            Routes.removeContainer.path(ContainerReference("c"), query: APIQuery(force: true))
                == "/v1/containers/c?force=1")
        #expect(
            Routes.flows.path(NoParameters(), query: APIQuery(container: ContainerReference("a&b=c")))
                == "/v1/flows?container=a%26b%3Dc")
    }

    @Test func theAgentReadsBackWhatTheClientWrote() {
        let id = AttachmentID(containerID: "a/b c%", interface: "eth0")
        let sent = Routes.detach.path(id).split(separator: "/").suffix(2).map(String.init)
        #expect(AttachmentID(encoded: sent) == id)

        let query = APIQuery(force: true, timeout: 7, container: ContainerReference("x y"))
        let items = URLComponents(string: Routes.flows.path(NoParameters(), query: query))?.queryItems ?? []
        let pairs = Dictionary(uniqueKeysWithValues: items.map { ($0.name, $0.value ?? "") })
        #expect(APIQuery { pairs[$0] } == query)
    }

    /// Each route's pattern names the parameters its type fills (the precondition in
    /// APIRoute.init), and no two routes share a method and a pattern.
    @Test func everyRouteOnce() {
        func key<P, B, A>(_ route: APIRoute<P, B, A>) -> String { "\(route.method) \(route.pattern)" }
        let routes = [
            key(Routes.info), key(Routes.stats), key(Routes.flows), key(Routes.flushFlows),
            key(Routes.networks), key(Routes.createNetwork), key(Routes.network), key(Routes.removeNetwork),
            key(Routes.connect), key(Routes.disconnect),
            key(Routes.containers), key(Routes.run), key(Routes.container), key(Routes.removeContainer),
            key(Routes.allow), key(Routes.logs), key(Routes.stop),
            key(Routes.attach), key(Routes.attachMain), key(Routes.collectAttachments), key(Routes.attachment),
            key(Routes.detach),
        ]
        #expect(Set(routes).count == routes.count)
    }
}

@Suite struct ErrorBodyTests {
    @Test(arguments: ErrorKind.allCases) func kindsRoundTrip(kind: ErrorKind) throws {
        let body = ErrorBody(message: "exec: \"x\": executable file not found in $PATH", kind: kind)
        let data = try APICoding.encoder.encode(body)
        #expect(try APICoding.decoder.decode(ErrorBody.self, from: data) == body)
    }

    /// The wire names stay those the agent has always sent.
    @Test func kindsOnTheWire() throws {
        #expect(ErrorKind.commandNotFound.rawValue == "command_not_found")
        #expect(ErrorKind.commandNotExecutable.rawValue == "command_not_executable")
        let json =
            try JSONSerialization.jsonObject(
                with: APICoding.encoder.encode(ErrorBody(message: "m", kind: .commandNotFound))) as? [String: String]
        #expect(json == ["message": "m", "kind": "command_not_found"])
    }

    @Test func anUnknownKindIsNoKind() throws {
        let body = try APICoding.decoder.decode(ErrorBody.self, from: Data(#"{"message":"m","kind":"new"}"#.utf8))
        #expect(body == ErrorBody(message: "m"))
    }
}

@Suite struct NoContentTests {
    /// The wire format of answers without content stays JSON null.
    @Test func encodesAsNullAndDecodesFromAnything() throws {
        #expect(String(decoding: try APICoding.encoder.encode(NoContent()), as: UTF8.self) == "null")
        _ = try APICoding.decoder.decode(NoContent.self, from: Data("null".utf8))
        _ = try APICoding.decoder.decode(NoContent.self, from: Data("{}".utf8))
    }
}

@Suite struct JSONValueTests {
    @Test func roundTripKeepsNumbersAsTheyCame() throws {
        let text = #"{"a":[1,2.5,true,null,"s"],"b":{"c":-3}}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(
            value
                == .object([
                    "a": .array([.integer(1), .number(2.5), .bool(true), .null, .string("s")]),
                    "b": .object(["c": .integer(-3)]),
                ]))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(value), as: UTF8.self) == text)
    }
}
