import Foundation
import Model

/// The CNI specification's error codes (1.0, and 50 from 1.1's STATUS).
enum CNIError: Error {
    case incompatibleVersion(String)
    case unknownContainer(String)
    case invalidEnvironment(String)
    case decodeFailure(String)
    case invalidConfiguration(String)
    case tryAgainLater(String)
    case pluginNotAvailable(String)

    var code: Int {
        switch self {
        case .incompatibleVersion: 1
        case .unknownContainer: 3
        case .invalidEnvironment: 4
        case .decodeFailure: 6
        case .invalidConfiguration: 7
        case .tryAgainLater: 11
        case .pluginNotAvailable: 50
        }
    }

    var message: String {
        switch self {
        case let .incompatibleVersion(m), let .unknownContainer(m), let .invalidEnvironment(m), let .decodeFailure(m),
             let .invalidConfiguration(m), let .tryAgainLater(m), let .pluginNotAvailable(m): m
        }
    }

    /// The error object the specification has plugins print on stdout.
    func json(cniVersion: String) -> Data {
        let object: [String: Any] = ["cniVersion": cniVersion, "code": code, "msg": message]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }
}

/// What a runtime hands the plugin: its environment.
struct CNIEnvironment {
    var command: String
    var containerID: String?
    var netns: String?
    var interface: String?

    init(_ environment: [String: String]) {
        command = environment["CNI_COMMAND"] ?? ""
        containerID = environment["CNI_CONTAINERID"].flatMap { $0.isEmpty ? nil : $0 }
        netns = environment["CNI_NETNS"].flatMap { $0.isEmpty ? nil : $0 }
        interface = environment["CNI_IFNAME"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func require(_ value: String?, _ name: String) throws(CNIError) -> String {
        guard let value else { throw .invalidEnvironment("\(name) is required for CNI_COMMAND=\(command)") }
        return value
    }
}

/// The plugin's configuration (stdin), as far as Bridgeport reads it. The whole object
/// is kept too: prevResult goes back to the runtime unchanged.
struct CNIConfiguration {
    static let supportedVersions = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
    var cniVersion: String
    var name: String
    var prevResult: [String: Any]?
    var portMappings: [[String: Any]]
    /// The agent's API socket (default /run/bridgeport.sock).
    var agentSocket: String?
    /// Main mode: the subnet of the network the first ADD makes.
    var subnet: String?
    /// GC (CNI 1.1): the attachments the runtime still has, as "containerID/ifname".
    var validAttachments: [String]

    init(_ data: Data) throws(CNIError) {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .decodeFailure("the network configuration on stdin is not a JSON object")
        }
        guard let version = object["cniVersion"] as? String else { throw .decodeFailure("the network configuration has no \"cniVersion\"") }
        guard CNIConfiguration.supportedVersions.contains(version) else {
            throw .incompatibleVersion("cniVersion \(version) is not supported: use one of \(CNIConfiguration.supportedVersions.joined(separator: ", "))")
        }
        guard let name = object["name"] as? String, !name.isEmpty else { throw .invalidConfiguration("the network configuration has no \"name\"") }
        cniVersion = version
        self.name = name
        prevResult = object["prevResult"] as? [String: Any]
        let runtime = object["runtimeConfig"] as? [String: Any]
        portMappings = runtime?["portMappings"] as? [[String: Any]] ?? []
        agentSocket = object["agentSocket"] as? String
        subnet = object["subnet"] as? String
        validAttachments = (object["cni.dev/valid-attachments"] as? [[String: Any]] ?? []).compactMap { entry in
            guard let container = entry["containerID"] as? String, let interface = entry["ifname"] as? String else { return nil }
            return container + "/" + interface
        }
    }
}

/// The container interface a previous plugin (the reference `bridge`) made, read from
/// its result: the interface named CNI_IFNAME in the sandbox, its IPv4 address and MAC,
/// and the host-side veth (the last interface outside a sandbox listed before it).
/// The network's subnet is the address's prefix, when the gateway is in it (an IPAM that
/// hands out /32s says nothing of the network: no subnet, no isolation).
struct ChainedInterface {
    var hostInterface: String
    var ip: String
    var mac: String
    var subnet: String?

    init(prevResult: [String: Any], interface: String) throws(CNIError) {
        let interfaces = prevResult["interfaces"] as? [[String: Any]] ?? []
        guard let index = interfaces.firstIndex(where: { $0["name"] as? String == interface && $0["sandbox"] != nil }) else {
            throw .invalidConfiguration("prevResult lists no interface \(interface) in a sandbox: chain bridgeport-cni after a plugin that makes the container's veth (bridge)")
        }
        guard let host = interfaces[..<index].last(where: { $0["sandbox"] == nil })?["name"] as? String else {
            throw .invalidConfiguration("prevResult lists no host-side interface before \(interface)")
        }
        let ips = prevResult["ips"] as? [[String: Any]] ?? []
        let ours = ips.first { ($0["interface"] as? Int) == index && ($0["address"] as? String)?.contains(".") == true }
        let parts = (ours?["address"] as? String)?.split(separator: "/") ?? []
        guard let address = parts.first else { throw .invalidConfiguration("prevResult gives \(interface) no IPv4 address") }
        guard let mac = interfaces[index]["mac"] as? String else { throw .invalidConfiguration("prevResult gives \(interface) no MAC") }
        hostInterface = host
        ip = String(address)
        self.mac = mac
        if parts.count == 2, let parsed = IPv4Address(address), let length = Int(parts[1]), (8...30).contains(length) {
            let network = IPv4Network(containing: parsed, prefixLength: length)
            let gateway = (ours?["gateway"] as? String).flatMap(IPv4Address.init)
            if gateway.map(network.contains) ?? true { subnet = network.description }
        }
    }
}
