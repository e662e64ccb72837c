import API
import FoundationEssentials
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
        router.reply("Plugin.Activate") { Activated() }
        router.reply("NetworkDriver.GetCapabilities") { Capabilities() }
        router.reply("NetworkDriver.CreateNetwork") { (body: CreateNetwork) in
            guard let pool = body.IPv4Data?.first?.Pool else {
                throw AgentError.incompleteDriverRequest(call: "CreateNetwork", missing: "IPv4 pool")
            }
            try await agent.dockerCreateNetwork(
                id: body.NetworkID, pool: pool, gateway: body.IPv4Data?.first?.Gateway,
                pool6: body.IPv6Data?.first?.Pool, gateway6: body.IPv6Data?.first?.Gateway,
                options: body.genericOptions)
        }
        router.reply("NetworkDriver.DeleteNetwork") { (body: NetworkOnly) in
            try await agent.dockerDeleteNetwork(id: body.NetworkID)
        }
        router.reply("NetworkDriver.CreateEndpoint") { (body: CreateEndpoint) in
            guard let address = body.Interface?.Address, !address.isEmpty else {
                throw AgentError.incompleteDriverRequest(
                    call: "CreateEndpoint", missing: "IPv4 address: Bridgeport takes Docker's IPAM's")
            }
            let mac = try await agent.dockerCreateEndpoint(
                network: body.NetworkID, endpoint: body.EndpointID,
                address: address, address6: body.Interface?.AddressIPv6, mac: body.Interface?.MacAddress)
            return EndpointCreated(Interface: .init(MacAddress: mac?.description))
        }
        router.reply("NetworkDriver.EndpointOperInfo") { (_: EndpointOnly) in EndpointInfo() }
        router.reply("NetworkDriver.DeleteEndpoint") { (body: EndpointOnly) in
            try await agent.dockerDeleteEndpoint(endpoint: body.EndpointID)
        }
        router.reply("NetworkDriver.Join") { (body: Join) in
            let (source, gateway, gateway6) = try await agent.dockerJoin(
                network: body.NetworkID, endpoint: body.EndpointID,
                sandbox: body.SandboxKey ?? "")
            return Joined(
                InterfaceName: .init(SrcName: source, DstPrefix: "eth"), Gateway: gateway?.description ?? "",
                GatewayIPv6: gateway6?.description)
        }
        router.reply("NetworkDriver.Leave") { (body: EndpointOnly) in
            try await agent.dockerLeave(endpoint: body.EndpointID)
        }
        router.reply("NetworkDriver.ProgramExternalConnectivity") { (body: ExternalConnectivity) in
            try await agent.dockerPublish(endpoint: body.EndpointID, bindings: try body.bindings())
        }
        router.reply("NetworkDriver.RevokeExternalConnectivity") { (body: EndpointOnly) in
            try await agent.dockerPublish(endpoint: body.EndpointID, bindings: [])
        }
        router.reply("NetworkDriver.DiscoverNew") { Done() }
        router.reply("NetworkDriver.DiscoverDelete") { Done() }
        return router
    }

    /// Encodes a reply with the plugin content type, keys sorted.
    static func response(_ reply: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? encoder.encode(reply)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: contentType],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    /// A failed call: {"Err": message}, with status 500 as libnetwork's plugin client
    /// expects (400 for a request it could not decode).
    struct Failure: HTTPResponseError {
        var status: HTTPResponse.Status
        var message: String

        func response(from request: Request, context: some RequestContext) -> Response {
            DockerPlugin.response(Failed(Err: message), status: status)
        }
    }

    // MARK: Replies, with libnetwork's field names

    struct Activated: Codable, Equatable { var Implements = ["NetworkDriver"] }
    struct Capabilities: Codable, Equatable {
        var Scope = "local"
        var ConnectivityScope = "local"
    }
    /// The empty object most calls answer.
    struct Done: Codable, Equatable {}
    struct Failed: Codable, Equatable { var Err: String }

    /// Without a MacAddress, Docker keeps the one it chose.
    struct EndpointCreated: Codable, Equatable {
        struct Interface: Codable, Equatable { var MacAddress: String? }
        var Interface: Interface
    }

    struct EndpointInfo: Codable, Equatable { var Value: [String: String] = [:] }

    /// Docker moves SrcName into the sandbox and names it DstPrefix with a number.
    struct Joined: Codable, Equatable {
        struct InterfaceName: Codable, Equatable {
            var SrcName: String
            var DstPrefix: String
        }
        var InterfaceName: InterfaceName
        var Gateway: String
        /// On a network with IPv6: dockerd gives the sandbox its v6 default route.
        var GatewayIPv6: String?
    }

    // MARK: Requests, with libnetwork's field names

    struct NetworkOnly: Decodable { var NetworkID: String }
    struct EndpointOnly: Decodable {
        var NetworkID: String?
        var EndpointID: String
    }

    struct CreateNetwork: Decodable {
        struct IPData: Decodable {
            var Pool: String?
            var Gateway: String?
        }
        var NetworkID: String
        var IPv4Data: [IPData]?
        /// `docker network create --ipv6`: the v6 pool and gateway of dockerd's IPAM.
        var IPv6Data: [IPData]?
        var Options: [String: JSONValue]?

        /// The user's `-o` options arrive under com.docker.network.generic.
        var genericOptions: [String: String] {
            Options?["com.docker.network.generic"]?.object?.compactMapValues(\.string) ?? [:]
        }
    }

    struct CreateEndpoint: Decodable {
        struct Interface: Decodable {
            var Address: String?
            var AddressIPv6: String?
            var MacAddress: String?
        }
        var NetworkID: String
        var EndpointID: String
        var Interface: Interface?
    }

    struct Join: Decodable {
        var NetworkID: String
        var EndpointID: String
        var SandboxKey: String?
    }

    struct ExternalConnectivity: Decodable {
        struct Binding: Decodable {
            var Proto: Int
            var Port: Int
            var HostIP: String?
            var HostPort: Int?
            var HostPortEnd: Int?
        }
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
                    throw ModelError.invalidPortSpec(
                        "\(entry.Port)",
                        "protocol \(entry.Proto) is neither TCP (6) nor UDP (17)")
                }
                let first = entry.HostPort ?? 0
                let last = max(entry.HostPortEnd ?? first, first)
                guard (1...65535).contains(entry.Port), (0...65535).contains(first), last <= 65535 else {
                    throw ModelError.invalidPortSpec("\(first):\(entry.Port)", "ports are 1 to 65535")
                }
                // An IPv6 HostIP is an IPv6 binding; none is both families' on a dual-stack network.
                let hostIP = try PortRequest.parseHostIP(entry.HostIP ?? "")
                return PortRequest(
                    proto: proto, containerPort: UInt16(entry.Port), hostIP: hostIP,
                    hostPorts: first == 0 ? nil : UInt16(first)...UInt16(last))
            }
        }
    }
}

extension Router<BasicRequestContext> {
    /// Answers a call of the driver protocol: decodes its request (unknown fields ignored)
    /// and encodes the reply, or fails with {"Err": ...}.
    func reply<Body: Decodable & SendableMetatype, Reply: Encodable & SendableMetatype>(
        _ call: String,
        _ handler: @escaping @Sendable (Body) async throws -> Reply
    ) {
        post(RouterPath(call)) { request, _ in
            do {
                let buffer = try await request.body.collect(upTo: 1 << 20)
                let body = try JSONDecoder().decode(Body.self, from: Data(buffer: buffer))
                return DockerPlugin.response(try await handler(body))
            } catch let error as DecodingError {
                throw DockerPlugin.Failure(status: .badRequest, message: "malformed request: \(error)")
            } catch {
                throw DockerPlugin.Failure(status: .internalServerError, message: "\(error)")
            }
        }
    }

    /// A call that answers {} when it succeeds.
    func reply<Body: Decodable & SendableMetatype>(
        _ call: String, _ handler: @escaping @Sendable (Body) async throws -> Void
    ) {
        reply(call) { (body: Body) -> DockerPlugin.Done in
            try await handler(body)
            return DockerPlugin.Done()
        }
    }

    /// A call whose request carries nothing Bridgeport reads.
    func reply<Reply: Encodable & SendableMetatype>(_ call: String, _ handler: @escaping @Sendable () -> Reply) {
        post(RouterPath(call)) { _, _ in DockerPlugin.response(handler()) }
    }
}
