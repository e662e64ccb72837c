import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Model
import NIOCore

/// Docker's remote network driver protocol (libnetwork's plugin API): JSON over HTTP
/// POSTs on a unix socket under /run/docker/plugins/, so that `docker network create -d
/// bridgeport` uses the agent. Unknown fields are ignored; failures answer {"Err": ...}.
enum DockerPlugin {
    static let contentType = "application/vnd.docker.plugins.v1.2+json"

    static func router(agent: Agent) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("Plugin.Activate") { _, _ in reply(["Implements": ["NetworkDriver"]]) }
        router.post("NetworkDriver.GetCapabilities") { _, _ in reply(["Scope": "local", "ConnectivityScope": "local"]) }
        router.post("NetworkDriver.CreateNetwork") { request, context in
            await handle(request, context, CreateNetwork.self) { body in
                guard let pool = body.IPv4Data?.first?.Pool else { throw AgentError.dataplane("CreateNetwork gave no IPv4 pool") }
                try await agent.dockerCreateNetwork(id: body.NetworkID, pool: pool, gateway: body.IPv4Data?.first?.Gateway,
                                                    options: body.genericOptions)
                return [:]
            }
        }
        router.post("NetworkDriver.DeleteNetwork") { request, context in
            await handle(request, context, NetworkOnly.self) { body in try await agent.dockerDeleteNetwork(id: body.NetworkID); return [:] }
        }
        router.post("NetworkDriver.CreateEndpoint") { request, context in
            await handle(request, context, CreateEndpoint.self) { body in
                guard let address = body.Interface?.Address, !address.isEmpty else {
                    throw AgentError.dataplane("CreateEndpoint gave no IPv4 address: Bridgeport takes Docker's IPAM's")
                }
                let mac = try await agent.dockerCreateEndpoint(network: body.NetworkID, endpoint: body.EndpointID, address: address,
                                                               mac: body.Interface?.MacAddress)
                return mac.map { ["Interface": ["MacAddress": $0.description]] } ?? ["Interface": [String: String]()]
            }
        }
        router.post("NetworkDriver.EndpointOperInfo") { request, context in
            await handle(request, context, EndpointOnly.self) { _ in ["Value": [String: String]()] }
        }
        router.post("NetworkDriver.DeleteEndpoint") { request, context in
            await handle(request, context, EndpointOnly.self) { body in try await agent.dockerDeleteEndpoint(endpoint: body.EndpointID); return [:] }
        }
        router.post("NetworkDriver.Join") { request, context in
            await handle(request, context, Join.self) { body in
                let (source, gateway) = try await agent.dockerJoin(network: body.NetworkID, endpoint: body.EndpointID,
                                                                   sandbox: body.SandboxKey ?? "")
                return ["InterfaceName": ["SrcName": source, "DstPrefix": "eth"], "Gateway": gateway?.description ?? ""]
            }
        }
        router.post("NetworkDriver.Leave") { request, context in
            await handle(request, context, EndpointOnly.self) { body in try await agent.dockerLeave(endpoint: body.EndpointID); return [:] }
        }
        router.post("NetworkDriver.ProgramExternalConnectivity") { request, context in
            await handle(request, context, ExternalConnectivity.self) { body in
                try await agent.dockerPublish(endpoint: body.EndpointID, bindings: try body.bindings())
                return [:]
            }
        }
        router.post("NetworkDriver.RevokeExternalConnectivity") { request, context in
            await handle(request, context, EndpointOnly.self) { body in try await agent.dockerPublish(endpoint: body.EndpointID, bindings: []); return [:] }
        }
        router.post("NetworkDriver.DiscoverNew") { _, _ in reply([:]) }
        router.post("NetworkDriver.DiscoverDelete") { _, _ in reply([:]) }
        return router
    }

    /// Decodes the request (unknown fields ignored), runs body, and answers its object, or
    /// {"Err": message} with status 500 as libnetwork's plugin client expects.
    private static func handle<Body: Decodable>(_ request: Request, _ context: BasicRequestContext, _ type: Body.Type,
                                                 _ body: (Body) async throws -> [String: Any]) async -> Response {
        do {
            let buffer = try await request.body.collect(upTo: 1 << 20)
            let decoded = try JSONDecoder().decode(Body.self, from: Data(buffer: buffer))
            return reply(try await body(decoded))
        } catch let error as DecodingError {
            return reply(["Err": "malformed request: \(error)"], status: .badRequest)
        } catch {
            return reply(["Err": "\(error)"], status: .internalServerError)
        }
    }

    private static func reply(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: Requests, with libnetwork's field names

    struct NetworkOnly: Decodable { var NetworkID: String }
    struct EndpointOnly: Decodable { var NetworkID: String?; var EndpointID: String }

    struct CreateNetwork: Decodable {
        struct IPData: Decodable { var Pool: String?; var Gateway: String? }
        var NetworkID: String
        var IPv4Data: [IPData]?
        var Options: [String: JSONValue]?

        /// The user's `-o` options arrive under com.docker.network.generic.
        var genericOptions: [String: String] {
            guard case let .object(generic)? = Options?["com.docker.network.generic"] else { return [:] }
            return generic.compactMapValues { if case let .string(text) = $0 { text } else { nil } }
        }
    }

    struct CreateEndpoint: Decodable {
        struct Interface: Decodable { var Address: String?; var MacAddress: String? }
        var NetworkID: String
        var EndpointID: String
        var Interface: Interface?
    }

    struct Join: Decodable { var NetworkID: String; var EndpointID: String; var SandboxKey: String? }

    struct ExternalConnectivity: Decodable {
        struct Binding: Decodable { var Proto: Int; var Port: Int; var HostIP: String?; var HostPort: Int?; var HostPortEnd: Int? }
        struct PortOptions: Decodable {
            var portmap: [Binding]?
            enum CodingKeys: String, CodingKey { case portmap = "com.docker.network.portmap" }
        }
        var NetworkID: String?
        var EndpointID: String
        var Options: PortOptions?

        /// com.docker.network.portmap: [{Proto 6|17, Port, HostIP, HostPort, HostPortEnd}];
        /// a HostPort of 0 lets Bridgeport choose.
        func bindings() throws -> [PortRequest] {
            try (self.Options?.portmap ?? []).map { entry in
                guard let proto: PortProtocol = entry.Proto == 6 ? .tcp : entry.Proto == 17 ? .udp : nil else {
                    throw ModelError.invalidPortSpec("\(entry.Port)", "protocol \(entry.Proto) is neither TCP (6) nor UDP (17)")
                }
                let first = entry.HostPort ?? 0, last = max(entry.HostPortEnd ?? first, first)
                guard (1...65535).contains(entry.Port), (0...65535).contains(first), last <= 65535 else {
                    throw ModelError.invalidPortSpec("\(first):\(entry.Port)", "ports are 1 to 65535")
                }
                let hostIP = entry.HostIP.flatMap { $0.isEmpty ? nil : IPv4Address($0) }
                return PortRequest(proto: proto, containerPort: UInt16(entry.Port), hostIP: hostIP,
                                   hostPorts: first == 0 ? nil : UInt16(first)...UInt16(last))
            }
        }
    }
}

/// Any JSON value, for option maps whose shape Docker leaves open.
enum JSONValue: Decodable, Sendable {
    case string(String), number(Double), bool(Bool), object([String: JSONValue]), array([JSONValue]), null

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }
}
