import API
import Foundation
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
            if environment.command == "VERSION" {
                try write(["cniVersion": "1.1.0", "supportedVersions": CNIConfiguration.supportedVersions])
                return
            }
            let configuration = try CNIConfiguration(FileHandle.standardInput.readDataToEndOfFile())
            version = configuration.cniVersion
            let client = AgentClient(socketPath: configuration.agentSocket)
            switch environment.command {
            case "ADD": try await add(environment, configuration, client)
            case "DEL": try await delete(environment, client)
            case "CHECK": try await check(environment, configuration, client)
            case "STATUS": try await status(client)
            case "GC": try await collect(configuration, client)
            default: throw CNIError.invalidEnvironment("CNI_COMMAND \"\(environment.command)\" is not one of ADD, DEL, CHECK, STATUS, GC, VERSION")
            }
        } catch let error as CNIError {
            FileHandle.standardOutput.write(error.json(cniVersion: version))
            exit(1)
        } catch {
            FileHandle.standardOutput.write(CNIError.invalidConfiguration("\(error)").json(cniVersion: version))
            exit(1)
        }
    }

    /// Equips the veth the previous plugin made and publishes the runtime's port
    /// mappings; prints the previous result unchanged.
    static func add(_ environment: CNIEnvironment, _ configuration: CNIConfiguration, _ client: AgentClient) async throws {
        let containerID = try environment.require(environment.containerID, "CNI_CONTAINERID")
        let netns = try environment.require(environment.netns, "CNI_NETNS")
        let interface = try environment.require(environment.interface, "CNI_IFNAME")
        let ports = try portMappings(configuration.portMappings)
        guard var result = configuration.prevResult else {
            // The main plugin: Bridgeport makes the bridge, veth, address and route.
            let request = MainAttachmentRequest(containerID: containerID, interface: interface, network: configuration.name,
                                                namespace: netns, subnet: configuration.subnet, ports: ports)
            let made: MainAttachment
            do {
                made = try await client.post("/v1/attachments/main", request)
            } catch let error as ClientError {
                throw agentError(error)
            }
            let attachment = made.attachment
            try write([
                "cniVersion": configuration.cniVersion,
                "interfaces": [["name": made.bridge], ["name": attachment.hostInterface],
                               ["name": interface, "mac": attachment.mac.description, "sandbox": netns]],
                "ips": [["address": "\(attachment.ip)/\(made.prefixLength)", "gateway": made.gateway.description, "interface": 2]],
                "routes": [["dst": "0.0.0.0/0", "gw": made.gateway.description]],
            ])
            return
        }
        let chained = try ChainedInterface(prevResult: result, interface: interface)
        let request = AttachmentRequest(containerID: containerID, interface: interface, network: configuration.name, namespace: netns,
                                        hostInterface: chained.hostInterface, ip: chained.ip, mac: chained.mac,
                                        ports: ports, subnet: chained.subnet)
        do {
            let _: Attachment = try await client.post("/v1/attachments", request)
        } catch let error as ClientError {
            throw agentError(error)
        }
        result["cniVersion"] = configuration.cniVersion
        try write(result)
    }

    /// Forgets the attachment. A repeated DEL, or one without an agent (it forgets
    /// attachments whose veth went when it starts), succeeds, as the specification asks.
    static func delete(_ environment: CNIEnvironment, _ client: AgentClient) async throws {
        let containerID = try environment.require(environment.containerID, "CNI_CONTAINERID")
        let interface = try environment.require(environment.interface, "CNI_IFNAME")
        do {
            try await client.delete("/v1/attachments/\(escaped(containerID))/\(escaped(interface))")
        } catch let error as ClientError {
            if case .agentNotRunning = error { return }
            throw agentError(error)
        }
    }

    static func check(_ environment: CNIEnvironment, _ configuration: CNIConfiguration, _ client: AgentClient) async throws {
        let containerID = try environment.require(environment.containerID, "CNI_CONTAINERID")
        let interface = try environment.require(environment.interface, "CNI_IFNAME")
        guard let result = configuration.prevResult else { throw CNIError.invalidConfiguration("CHECK needs prevResult") }
        let chained = try ChainedInterface(prevResult: result, interface: interface)
        let attachment: Attachment
        do {
            attachment = try await client.get("/v1/attachments/\(escaped(containerID))/\(escaped(interface))")
        } catch let error as ClientError {
            if error.isNotFound { throw CNIError.unknownContainer("Bridgeport equips no interface \(interface) of container \(containerID)") }
            throw agentError(error)
        }
        guard attachment.hostInterface == chained.hostInterface, attachment.ip.description == chained.ip else {
            throw CNIError.invalidConfiguration("Bridgeport equips \(attachment.hostInterface) (\(attachment.ip)), but prevResult says \(chained.hostInterface) (\(chained.ip))")
        }
        let wanted = Set(try portMappings(configuration.portMappings)), have = Set(attachment.ports)
        guard wanted == have else { throw CNIError.invalidConfiguration("the published ports differ from the runtime's portMappings") }
    }

    /// Releases this network's attachments the runtime no longer lists. Without an agent
    /// there is nothing to release: it forgets attachments whose veth is gone when it starts.
    static func collect(_ configuration: CNIConfiguration, _ client: AgentClient) async throws {
        do {
            let _: [String] = try await client.post("/v1/attachments/gc",
                                                    AttachmentCollection(network: configuration.name, keep: configuration.validAttachments))
        } catch let error as ClientError {
            if case .agentNotRunning = error { return }
            throw agentError(error)
        }
    }

    static func status(_ client: AgentClient) async throws {
        do {
            let _: AgentInfo = try await client.get("/v1/info")
        } catch let error as ClientError {
            throw CNIError.pluginNotAvailable(error.description)
        }
    }

    /// The `portMappings` capability: {hostPort, containerPort, protocol, hostIP}.
    static func portMappings(_ entries: [[String: Any]]) throws(CNIError) -> [PortMapping] {
        try entries.map { entry throws(CNIError) in
            guard let host = entry["hostPort"] as? Int, let container = entry["containerPort"] as? Int,
                  (1...65535).contains(host), (1...65535).contains(container) else {
                throw .invalidConfiguration("a port mapping needs hostPort and containerPort from 1 to 65535: \(entry)")
            }
            let protocolName = (entry["protocol"] as? String ?? "tcp").lowercased()
            guard let proto = PortProtocol(rawValue: protocolName) else {
                throw .invalidConfiguration("port mapping protocol \"\(protocolName)\" is not tcp or udp")
            }
            let hostIP: IPv4Address
            if let text = entry["hostIP"] as? String, !text.isEmpty {
                guard let parsed = IPv4Address(text) else { throw .invalidConfiguration("hostIP \"\(text)\" is not an IPv4 address") }
                hostIP = parsed
            } else {
                hostIP = .any
            }
            return PortMapping(proto: proto, containerPort: UInt16(container), hostIP: hostIP, hostPort: UInt16(host))
        }
    }

    static func agentError(_ error: ClientError) -> CNIError {
        if case .agentNotRunning = error {
            return .tryAgainLater("\(error.description) bridgeport-cni only hands the veth to the agent, which owns the BPF maps: nothing was published")
        }
        return .invalidConfiguration(error.description)
    }

    static func escaped(_ component: String) -> String {
        component.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? component
    }

    static func write(_ object: Any) throws {
        FileHandle.standardOutput.write(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}
