import API
import FoundationEssentials
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
        case .incompatibleVersion(let m), .unknownContainer(let m), .invalidEnvironment(let m), .decodeFailure(let m),
            .invalidConfiguration(let m), .tryAgainLater(let m), .pluginNotAvailable(let m):
            m
        }
    }

    /// The error object the specification has plugins print on stdout.
    func reply(cniVersion: String) -> CNIErrorReply { CNIErrorReply(cniVersion: cniVersion, code: code, msg: message) }
}

struct CNIErrorReply: Codable, Equatable {
    var cniVersion: String
    var code: Int
    var msg: String
}

/// VERSION's answer.
struct CNIVersionReply: Codable, Equatable {
    var cniVersion: String
    var supportedVersions: [String]
}

/// A CNI result (specification 1.0): what ADD prints as the main plugin, and what the
/// previous plugin of a chain hands on in prevResult.
struct CNIResult: Codable, Equatable {
    struct Interface: Codable, Equatable {
        var name: String
        var mac: String?
        /// Set for an interface inside the container (its network namespace).
        var sandbox: String?
    }

    struct IP: Codable, Equatable {
        /// CIDR notation: "10.22.0.5/24".
        var address: String
        var gateway: String?
        /// Index of the interface in `interfaces`.
        var interface: Int?
    }

    struct Route: Codable, Equatable {
        var dst: String
        var gw: String?
    }

    var cniVersion: String?
    var interfaces: [Interface]?
    var ips: [IP]?
    var routes: [Route]?
}

/// CNI_COMMAND.
enum CNICommand: String, CaseIterable {
    case add = "ADD"
    case delete = "DEL"
    case check = "CHECK"
    case status = "STATUS"
    case gc = "GC"
    case version = "VERSION"
}

/// What a runtime hands the plugin: its environment.
struct CNIEnvironment {
    /// CNI_COMMAND as given: see command().
    var commandName: String
    var containerID: String?
    var netns: String?
    var interface: String?

    init(_ environment: [String: String]) {
        commandName = environment["CNI_COMMAND"] ?? ""
        containerID = environment["CNI_CONTAINERID"].flatMap { $0.isEmpty ? nil : $0 }
        netns = environment["CNI_NETNS"].flatMap { $0.isEmpty ? nil : $0 }
        interface = environment["CNI_IFNAME"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func command() throws(CNIError) -> CNICommand {
        guard let command = CNICommand(rawValue: commandName) else {
            let names = CNICommand.allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalidEnvironment("CNI_COMMAND \"\(commandName)\" is not one of \(names)")
        }
        return command
    }

    func require(_ value: String?, _ name: String) throws(CNIError) -> String {
        guard let value else { throw .invalidEnvironment("\(name) is required for CNI_COMMAND=\(commandName)") }
        return value
    }

    /// CNI_CONTAINERID and CNI_IFNAME: the attachment a command is about.
    func attachment() throws(CNIError) -> AttachmentID {
        AttachmentID(
            containerID: try require(containerID, "CNI_CONTAINERID"),
            interface: try require(interface, "CNI_IFNAME"))
    }
}

/// The plugin's configuration (stdin), as far as Bridgeport reads it.
struct CNIConfiguration: Decodable {
    static let supportedVersions = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

    /// The `portMappings` capability's entries.
    struct PortMappingEntry: Codable, CustomStringConvertible {
        var hostPort: Int?
        var containerPort: Int?
        var `protocol`: String?
        var hostIP: String?

        /// As the runtime wrote it, for messages.
        var description: String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        }
    }

    struct RuntimeConfig: Decodable { var portMappings: [PortMappingEntry]? }

    /// GC (CNI 1.1): an attachment the runtime still has.
    struct ValidAttachment: Decodable {
        var containerID: String?
        var ifname: String?
    }

    var cniVersion: String
    var name: String
    var prevResult: CNIResult?
    var runtimeConfig: RuntimeConfig?
    /// The agent's API socket (default /run/bridgeport.sock).
    var agentSocket: String?
    /// Main mode: the subnet of the network the first ADD makes ...
    var subnet: String?
    /// ... and whether it has IPv6 (`network create --ipv6`), with this IPv6 subnet (nil:
    /// a ULA /64).
    var ipv6: Bool?
    var subnet6: String?
    var validAttachmentEntries: [ValidAttachment]?
    /// prevResult as it came: ADD hands it on unchanged.
    var prevResultAsGiven: JSONValue?

    var portMappings: [PortMappingEntry] { runtimeConfig?.portMappings ?? [] }

    /// The attachments the runtime still has, as "containerID/ifname".
    var validAttachments: [String] {
        (validAttachmentEntries ?? []).compactMap { entry in
            guard let container = entry.containerID, let interface = entry.ifname else { return nil }
            return AttachmentID(containerID: container, interface: interface).description
        }
    }

    private enum CodingKeys: String, CodingKey {
        case cniVersion, name, prevResult, runtimeConfig, agentSocket, subnet, ipv6, subnet6
        case validAttachmentEntries = "cni.dev/valid-attachments"
    }

    /// Reads the configuration; what the specification has a code for is checked first.
    /// `tolerant` (DEL, GC, STATUS, which read neither): a `prevResult` or `runtimeConfig`
    /// of an unexpected shape is left out instead of failing the command, as the
    /// specification wants DEL to succeed whatever it can.
    init(_ data: Data, tolerant: Bool = false) throws(CNIError) {
        let decoder = JSONDecoder()
        guard let object = try? decoder.decode([String: JSONValue].self, from: data) else {
            throw .decodeFailure("the network configuration on stdin is not a JSON object")
        }
        guard let version = object["cniVersion"]?.string else {
            throw .decodeFailure("the network configuration has no \"cniVersion\"")
        }
        guard Self.supportedVersions.contains(version) else {
            throw .incompatibleVersion(
                "cniVersion \(version) is not supported: use one of \(Self.supportedVersions.joined(separator: ", "))")
        }
        guard let name = object["name"]?.string, !name.isEmpty else {
            throw .invalidConfiguration("the network configuration has no \"name\"")
        }
        do {
            do {
                self = try decoder.decode(CNIConfiguration.self, from: data)
            } catch  where tolerant {
                var reduced = object
                reduced["prevResult"] = nil
                reduced["runtimeConfig"] = nil
                self = try decoder.decode(CNIConfiguration.self, from: try JSONEncoder().encode(reduced))
            }
            prevResultAsGiven = object["prevResult"]
        } catch {
            throw .decodeFailure("cannot decode the network configuration: \(error)")
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
    /// Its IPv6 address, if the previous plugin gave it one.
    var ip6: String?

    init(prevResult: CNIResult, interface: String) throws(CNIError) {
        let interfaces = prevResult.interfaces ?? []
        guard let index = interfaces.firstIndex(where: { $0.name == interface && $0.sandbox != nil }) else {
            throw .invalidConfiguration(
                "prevResult lists no interface \(interface) in a sandbox: "
                    + "chain bridgeport-cni after a plugin that makes the container's veth (bridge)")
        }
        guard let host = interfaces[..<index].last(where: { $0.sandbox == nil })?.name else {
            throw .invalidConfiguration("prevResult lists no host-side interface before \(interface)")
        }
        let ours = prevResult.ips?.first { $0.interface == index && $0.address.contains(".") }
        let parts = ours?.address.split(separator: "/") ?? []
        guard let address = parts.first else {
            throw .invalidConfiguration("prevResult gives \(interface) no IPv4 address")
        }
        guard let mac = interfaces[index].mac else {
            throw .invalidConfiguration("prevResult gives \(interface) no MAC")
        }
        hostInterface = host
        ip = String(address)
        let ours6 = prevResult.ips?.first { $0.interface == index && $0.address.contains(":") }
        ip6 = ours6?.address.split(separator: "/").first.map(String.init)
        self.mac = mac
        if parts.count == 2, let parsed = IPv4Address(address), let length = Int(parts[1]), (8...30).contains(length) {
            let network = IPv4Network(containing: parsed, prefixLength: length)
            let gateway = ours?.gateway.flatMap(IPv4Address.init)
            if gateway.map(network.contains) ?? true { subnet = network.description }
        }
    }
}
