import Foundation
import Hummingbird
import HummingbirdTesting
import Model
import Testing

@testable import Daemon

/// The replies keep libnetwork's remote driver protocol: its field names, and {} or
/// {"Err": ...} where it expects them.
@Suite struct DockerPluginTests {
    static func json(_ reply: some Encodable) throws -> String {
        String(decoding: try DockerPlugin.encoder.encode(reply), as: UTF8.self)
    }

    @Test func repliesHaveLibnetworksFieldNames() throws {
        #expect(try Self.json(DockerPlugin.Activated()) == #"{"Implements":["NetworkDriver"]}"#)
        #expect(try Self.json(DockerPlugin.Capabilities()) == #"{"ConnectivityScope":"local","Scope":"local"}"#)
        #expect(try Self.json(DockerPlugin.Done()) == "{}")
        #expect(try Self.json(DockerPlugin.EndpointInfo()) == #"{"Value":{}}"#)
        #expect(try Self.json(DockerPlugin.Failed(Err: "no")) == #"{"Err":"no"}"#)
        #expect(
            try Self.json(DockerPlugin.EndpointCreated(Interface: .init(MacAddress: "02:42:0a:00:00:02")))
                == #"{"Interface":{"MacAddress":"02:42:0a:00:00:02"}}"#)
        // No MAC: Docker keeps the one it chose.
        #expect(try Self.json(DockerPlugin.EndpointCreated(Interface: .init(MacAddress: nil))) == #"{"Interface":{}}"#)
        #expect(
            try Self.json(
                DockerPlugin.Joined(
                    InterfaceName: .init(SrcName: "bp1234", DstPrefix: "eth"),
                    Gateway: "10.1.0.1"))
                == #"{"Gateway":"10.1.0.1","InterfaceName":{"DstPrefix":"eth","SrcName":"bp1234"}}"#)
    }

    @Test func callsAnswerTheirReplyOrErr() async throws {
        let router = Router()
        router.reply("Plugin.Activate") { DockerPlugin.Activated() }
        router.reply("NetworkDriver.DeleteNetwork") { (body: DockerPlugin.NetworkOnly) -> DockerPlugin.Done in
            throw ModelError.networkNotFound(body.NetworkID)
        }
        try await Application(router: router).test(.router) { client in
            let activated = try await client.execute(uri: "/Plugin.Activate", method: .post)
            #expect(activated.status == .ok)
            #expect(activated.headers[.contentType] == DockerPlugin.contentType)
            #expect(String(buffer: activated.body) == #"{"Implements":["NetworkDriver"]}"#)

            let failed = try await client.execute(
                uri: "/NetworkDriver.DeleteNetwork", method: .post,
                body: ByteBuffer(string: #"{"NetworkID":"n1","Extra":1}"#))
            #expect(failed.status == .internalServerError)
            #expect(String(buffer: failed.body) == #"{"Err":"network n1 not found"}"#)

            let malformed = try await client.execute(
                uri: "/NetworkDriver.DeleteNetwork", method: .post,
                body: ByteBuffer(string: "{}"))
            #expect(malformed.status == .badRequest)
            #expect(String(buffer: malformed.body).hasPrefix(#"{"Err":"malformed request: "#))
        }
    }

    @Test func genericOptionsAreTheUsersDashO() throws {
        let body = #"{"NetworkID":"n","Options":{"com.docker.network.generic":{"parent":"eth1","mtu":1400}}}"#
        let request = try JSONDecoder().decode(DockerPlugin.CreateNetwork.self, from: Data(body.utf8))
        #expect(request.genericOptions == ["parent": "eth1"])
    }
}
