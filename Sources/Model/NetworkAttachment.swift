/// One `--network` of `run`: a network's name or ID, `container:NAME` (share that
/// container's network namespace), or Docker 25's long form
/// `name=NET,alias=A,ip=IP,mac-address=MAC,driver-opt=KEY=VALUE` (fields as CSV, so a
/// value with a comma is quoted).
public struct NetworkAttachmentRequest: Codable, Sendable, Hashable {
    public var network: String
    public var aliases: [String]
    public var ip: String?
    /// ip6: its IPv6 address (on a network with IPv6).
    public var ip6: String? = nil
    public var macAddress: String?
    /// driver-opt: kept for Docker compatibility; no driver here reads one yet.
    public var driverOptions: [String: String]

    public init(
        network: String, aliases: [String] = [], ip: String? = nil, macAddress: String? = nil,
        driverOptions: [String: String] = [:]
    ) {
        self.network = network
        self.aliases = aliases
        self.ip = ip
        self.macAddress = macAddress
        self.driverOptions = driverOptions
    }

    public static let containerPrefix = "container:"

    /// The container whose network namespace this one joins, for `container:NAME`.
    public var joinedContainer: String? {
        network.hasPrefix(Self.containerPrefix) ? String(network.dropFirst(Self.containerPrefix.count)) : nil
    }

    /// Docker's own networks (and `container:`): they take no per-network settings and no
    /// second network.
    public var isUserDefined: Bool {
        joinedContainer == nil && !["default", Network.defaultName, "host", "none"].contains(network)
    }

    /// Parses one `--network` value as Docker's CLI does: the long form when it holds a '='.
    public static func parse(_ value: String) throws(ModelError) -> NetworkAttachmentRequest {
        func fail(_ message: String) -> ModelError { .invalidFlag("--network", value, message) }
        guard value.contains("=") else {
            guard !value.isEmpty else { throw fail("network name must not be empty") }
            return NetworkAttachmentRequest(network: value)
        }
        var attachment = NetworkAttachmentRequest(network: "")
        guard let fields = csvFields(value) else { throw fail("invalid CSV: unbalanced or stray '\"'") }
        for field in fields {
            guard let equals = field.firstIndex(of: "="), equals != field.startIndex else {
                throw fail("invalid field '\(field)' must be a key=value pair")
            }
            let key = field[..<equals].lowercased()
            let text = String(field[field.index(after: equals)...])
            switch key {
            case "name": attachment.network = text
            case "alias": attachment.aliases.append(text)
            case "ip": attachment.ip = text
            case "ip6": attachment.ip6 = text
            case "mac-address": attachment.macAddress = text
            case "driver-opt":
                guard let split = text.firstIndex(of: "="), split != text.startIndex else {
                    throw fail("invalid key value pair format in driver options")
                }
                attachment.driverOptions[String(text[..<split]).lowercased()] = String(
                    text[text.index(after: split)...])
            default: throw fail("invalid field key \(key)")
            }
        }
        guard !attachment.network.isEmpty else { throw fail("network name must be set (name=NETWORK)") }
        return attachment
    }

    /// One CSV record as Go's encoding/csv reads it: fields split on ',', a field in
    /// double quotes may hold ',' and '""' for a quote. nil for a malformed record.
    static func csvFields(_ line: String) -> [String]? {
        var fields: [String] = []
        var field = ""
        var characters = line[...]
        while true {
            if characters.first == "\"" {
                characters.removeFirst()
                while true {
                    guard let character = characters.popFirst() else { return nil }
                    if character != "\"" {
                        field.append(character)
                    } else if characters.first == "\"" {
                        field.append(characters.removeFirst())
                    } else {
                        break
                    }
                }
                guard characters.isEmpty || characters.first == "," else { return nil }
            } else {
                while let character = characters.first, character != "," {
                    if character == "\"" { return nil }
                    field.append(characters.removeFirst())
                }
            }
            fields.append(field)
            field = ""
            guard characters.popFirst() != nil else { return fields }
        }
    }
}

extension ContainerRequest {
    /// The networks the container joins, its network mode first, by Docker's rules:
    /// `--network` may be given many times (user-defined networks only); --ip,
    /// --network-alias and --mac-address apply to the first, and may not be given for it
    /// both ways.
    public func attachments() throws(ModelError) -> [NetworkAttachmentRequest] {
        var list = networks ?? []
        if list.isEmpty { list = [NetworkAttachmentRequest(network: network ?? Network.defaultName)] }
        var first = list[0]
        let aliases = aliases ?? []
        if !first.aliases.isEmpty && !aliases.isEmpty {
            throw .conflictingOptions("cannot specify both --network-alias and per-network alias")
        }
        if first.ip != nil && ip != nil {
            throw .conflictingOptions("cannot specify both --ip and per-network IPv4 address")
        }
        if first.ip6 != nil && ip6 != nil {
            throw .conflictingOptions("cannot specify both --ip6 and per-network IPv6 address")
        }
        if first.macAddress != nil && macAddress != nil {
            throw .conflictingOptions("cannot specify both --mac-address and per-network MAC address")
        }
        first.aliases += aliases
        first.ip = first.ip ?? ip
        first.ip6 = first.ip6 ?? ip6
        first.macAddress = first.macAddress ?? macAddress
        list[0] = first
        var seen: Set<String> = []
        for attachment in list where !seen.insert(attachment.network).inserted {
            throw .conflictingNetworks("network \"\(attachment.network)\" is specified multiple times")
        }
        if list.count > 1 && !list.allSatisfy(\.isUserDefined) {
            throw .conflictingOptions(
                list.contains(where: \.isUserDefined)
                    ? "cannot attach both user-defined and non-user-defined network-modes"
                    : "cannot attach to more than one of Docker's own networks (bridge, host, none, container:)")
        }
        return list
    }

    /// What `--network container:NAME` may not be given with: the namespace, its names
    /// and its ports are the other container's (Docker's runconfig errors).
    func checkJoinConflicts() throws(ModelError) {
        let conflicts: [(Bool, String)] = [
            (hostname != nil, "hostname and the network mode"),
            (!ports.isEmpty || publishAll == true, "port publishing and the container type network mode"),
            (!(expose ?? []).isEmpty, "port exposing and the container type network mode"),
            (!(dns ?? []).isEmpty, "dns and the network mode"),
            (!(extraHosts ?? []).isEmpty, "custom host-to-IP mapping and the network mode"),
            (macAddress != nil, "mac-address and the network mode"),
        ]
        if let (_, what) = conflicts.first(where: \.0) { throw .conflictingOptions(what) }
        if ip != nil || ip6 != nil { throw .ipOnDefaultNetwork }
        if !(aliases ?? []).isEmpty { throw .aliasWithoutNames }
        if let sysctl = sysctls?.first {
            throw .invalidFlag(
                "--sysctl", sysctl, "sysctls are not allowed when sharing another container's network namespace")
        }
    }
}

/// --mac-address (or a --network's mac-address), validated: a unicast MAC.
func requestedMAC(_ text: String?) throws(ModelError) -> MACAddress? {
    guard let text else { return nil }
    guard let mac = MACAddress(text), mac.bytes[0] & 1 == 0 else {
        throw .invalidFlag("--mac-address", text, "\(text) is not a valid mac address")
    }
    return mac
}
