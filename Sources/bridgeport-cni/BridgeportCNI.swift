import API
import FoundationEssentials
import Glibc
import Model

/// bridgeport-cni: a CNI plugin (specification 1.0, STATUS of 1.1) chained after the
/// reference `bridge` plugin, in place of `portmap`. It hands the container's veth and
/// its port mappings to the Bridgeport agent, which owns the BPF maps: ports are
/// published, and the veth counted and checked, without an iptables rule.
@main
enum BridgeportCNI {
    static func main() async {
        let environment = CNIEnvironment(ProcessInfo.processInfo.environment)
        var version = "1.0.0"
        do {
            let command = try environment.command()
            if command == .version {
                try write(CNIVersionReply(cniVersion: "1.1.0", supportedVersions: CNIConfiguration.supportedVersions))
                return
            }
            let configuration = try CNIConfiguration(
                readAll() ?? Data(), tolerant: command != .add && command != .check)
            version = configuration.cniVersion
            let client = AgentClient(socketPath: configuration.agentSocket)
            switch command {
            case .add: try await add(environment, configuration, client)
            case .delete: try await delete(environment, client)
            case .check: try await check(environment, configuration, client)
            case .status: try await status(client)
            case .gc: try await collect(configuration, client)
            case .version: break
            }
        } catch {
            let failure = error as? CNIError ?? .invalidConfiguration("\(error)")
            writeAll((try? encoder.encode(failure.reply(cniVersion: version))) ?? Data())
            exit(1)
        }
    }

    /// Equips the veth the previous plugin made and publishes the runtime's port
    /// mappings; prints the previous result unchanged.
    static func add(
        _ environment: CNIEnvironment, _ configuration: CNIConfiguration,
        _ client: AgentClient
    ) async throws {
        let id = try environment.attachment()
        let netns = try environment.require(environment.netns, "CNI_NETNS")
        guard let result = configuration.prevResult, case .object(var handedOn)? = configuration.prevResultAsGiven
        else {
            let ipv6 = configuration.ipv6 ?? false
            let ports = try portMappings(configuration.portMappings, ipv6: ipv6)
            // The main plugin: Bridgeport makes the bridge, veth, addresses and routes.
            var request = MainAttachmentRequest(
                containerID: id.containerID, interface: id.interface,
                network: configuration.name, namespace: netns,
                subnet: configuration.subnet, ports: ports)
            (request.ipv6, request.subnet6) = (ipv6, configuration.subnet6)
            let made = try await agent { try await client.send(Routes.attachMain, body: request) }
            let attachment = made.attachment
            let gateway = made.gateway.description
            var ips: [CNIResult.IP] = [
                .init(address: "\(attachment.ip)/\(made.prefixLength)", gateway: gateway, interface: 2)
            ]
            var routes: [CNIResult.Route] = [.init(dst: "0.0.0.0/0", gw: gateway)]
            if let ip6 = attachment.ip6, let gateway6 = made.gateway6, let length = made.prefixLength6 {
                ips.append(.init(address: "\(ip6)/\(length)", gateway: gateway6.description, interface: 2))
                routes.append(.init(dst: "::/0", gw: gateway6.description))
            }
            try write(
                CNIResult(
                    cniVersion: configuration.cniVersion,
                    interfaces: [
                        .init(name: made.bridge), .init(name: attachment.hostInterface),
                        .init(name: id.interface, mac: attachment.mac.description, sandbox: netns),
                    ],
                    ips: ips, routes: routes))
            return
        }
        let chained = try ChainedInterface(prevResult: result, interface: id.interface)
        let request = AttachmentRequest(
            containerID: id.containerID, interface: id.interface,
            network: configuration.name, namespace: netns,
            hostInterface: chained.hostInterface, ip: chained.ip, mac: chained.mac,
            ports: try portMappings(configuration.portMappings, ipv6: chained.ip6 != nil), subnet: chained.subnet,
            ip6: chained.ip6)
        try await agent { try await client.send(Routes.attach, body: request) }
        handedOn["cniVersion"] = .string(configuration.cniVersion)
        try write(JSONValue.object(handedOn))
    }

    /// Forgets the attachment. A repeated DEL, or one without an agent (it forgets
    /// attachments whose veth went when it starts), succeeds, as the specification asks.
    static func delete(_ environment: CNIEnvironment, _ client: AgentClient) async throws {
        let attachment = try environment.attachment()
        try await agent(whenDown: NoContent()) { try await client.send(Routes.detach, attachment) }
    }

    static func check(
        _ environment: CNIEnvironment, _ configuration: CNIConfiguration,
        _ client: AgentClient
    ) async throws {
        let id = try environment.attachment()
        guard let result = configuration.prevResult else {
            throw CNIError.invalidConfiguration("CHECK needs prevResult")
        }
        let chained = try ChainedInterface(prevResult: result, interface: id.interface)
        let attachment: Attachment
        do {
            attachment = try await client.send(Routes.attachment, id)
        } catch let error as ClientError {
            guard error.isNotFound else { throw agentError(error) }
            throw CNIError.unknownContainer(
                "Bridgeport equips no interface \(id.interface) of container \(id.containerID)")
        }
        guard attachment.hostInterface == chained.hostInterface, attachment.ip.description == chained.ip else {
            throw CNIError.invalidConfiguration(
                "Bridgeport equips \(attachment.hostInterface) (\(attachment.ip)), "
                    + "but prevResult says \(chained.hostInterface) (\(chained.ip))")
        }
        let wanted = Set(try portMappings(configuration.portMappings, ipv6: chained.ip6 != nil))
        let have = Set(attachment.ports)
        guard wanted == have else {
            throw CNIError.invalidConfiguration("the published ports differ from the runtime's portMappings")
        }
    }

    /// Releases this network's attachments the runtime no longer lists. Without an agent
    /// there is nothing to release: it forgets attachments whose veth is gone when it starts.
    static func collect(_ configuration: CNIConfiguration, _ client: AgentClient) async throws {
        let request = AttachmentCollection(network: configuration.name, keep: configuration.validAttachments)
        try await agent(whenDown: []) { try await client.send(Routes.collectAttachments, body: request) }
    }

    static func status(_ client: AgentClient) async throws {
        do {
            _ = try await client.send(Routes.info)
        } catch let error as ClientError {
            throw CNIError.pluginNotAvailable(error.description)
        }
    }

    /// The `portMappings` capability: {hostPort, containerPort, protocol, hostIP}. An empty
    /// hostIP is every address of each family the container has (`ipv6`), as the portmap
    /// plugin maps it; an IPv6 hostIP is an IPv6 binding.
    static func portMappings(
        _ entries: [CNIConfiguration.PortMappingEntry], ipv6: Bool
    ) throws(CNIError) -> [PortMapping] {
        var mappings: [PortMapping] = []
        for entry in entries {
            guard let host = entry.hostPort, let container = entry.containerPort,
                (1...65535).contains(host), (1...65535).contains(container)
            else {
                throw .invalidConfiguration("a port mapping needs hostPort and containerPort from 1 to 65535: \(entry)")
            }
            let protocolName = (entry.protocol ?? "tcp").lowercased()
            guard let proto = PortProtocol(rawValue: protocolName) else {
                throw .invalidConfiguration("port mapping protocol \"\(protocolName)\" is not tcp or udp")
            }
            let hostIPs: [IPAddress]
            if let text = entry.hostIP, !text.isEmpty {
                guard let parsed = try? IPAddress(parsing: text) else {
                    throw .invalidConfiguration("hostIP \"\(text)\" is not an IP address")
                }
                hostIPs = [parsed]
            } else {
                hostIPs = ipv6 ? [.unspecified(.ipv4), .unspecified(.ipv6)] : [.unspecified(.ipv4)]
            }
            mappings += hostIPs.map {
                PortMapping(proto: proto, containerPort: UInt16(container), hostIP: $0, hostPort: UInt16(host))
            }
        }
        return mappings
    }

    /// Runs a call to the agent, its failures as the specification's errors. Without an
    /// agent the call answers `whenDown` if given (DEL and GC have nothing to undo then).
    @discardableResult
    static func agent<Answer>(whenDown: Answer? = nil, _ call: () async throws -> Answer) async throws -> Answer {
        do {
            return try await call()
        } catch let error as ClientError {
            if case .agentNotRunning = error, let whenDown { return whenDown }
            throw agentError(error)
        }
    }

    static func agentError(_ error: ClientError) -> CNIError {
        if case .agentNotRunning = error {
            return .tryAgainLater(
                "\(error.description) bridgeport-cni only hands the veth to the agent, "
                    + "which owns the BPF maps: nothing was published")
        }
        return .invalidConfiguration(error.description)
    }

    /// Keys sorted, so that a result reads the same whichever plugin wrote it.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    static func write(_ reply: some Encodable) throws {
        writeAll(try encoder.encode(reply))
        writeAll(Data("\n".utf8))
    }
}
