import FoundationEssentials

/// Docker's daemon.json, the keys Bridgeport applies (`bridgeport daemon --config-file`),
/// as written. As dockerd does, a key that is no setting is refused by name, and so is a
/// key also given as a flag; `validated()` turns the values into settings.
public struct DaemonFile: Codable, Sendable, Equatable {
    /// Where user-defined networks' subnets come from when no --subnet is given.
    public var defaultAddressPools: [Pool]?
    /// The default bridge's address and prefix ("172.20.0.1/16"): its gateway and subnet.
    public var bip: String?
    /// The default bridge's range for container addresses.
    public var fixedCIDR: String?
    /// The default route of the default bridge's containers, in place of the bridge.
    public var defaultGateway: String?
    /// The default bridge's MTU and its veths'.
    public var mtu: Int?
    /// false: the default bridge's containers cannot talk to each other.
    public var icc: Bool?
    /// The host address of `-p` without one.
    public var ip: String?
    /// The servers containers (and the embedded DNS) use without `run --dns`.
    public var dns: [String]?
    /// true: the default bridge has IPv6 too, from fixed-cidr-v6 (else a ULA /64).
    public var ipv6: Bool?
    public var fixedCIDRv6: String?

    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable {
        case defaultAddressPools = "default-address-pools"
        case bip
        case fixedCIDR = "fixed-cidr"
        case defaultGateway = "default-gateway"
        case mtu, icc, ip, dns, ipv6
        case fixedCIDRv6 = "fixed-cidr-v6"
    }

    /// One entry of default-address-pools: subnets of prefix length `size` inside `base`.
    public struct Pool: Codable, Sendable, Equatable {
        public var base: String
        public var size: Int

        public init(base: String, size: Int) {
            self.base = base
            self.size = size
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case base, size }

        public init(from decoder: any Decoder) throws {
            try refuseUnknownKeys(decoder, known: CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            base = try container.decode(String.self, forKey: .base)
            guard let size = try container.integer(.size) else {
                throw DecodingError.keyNotFound(
                    CodingKeys.size, .init(codingPath: container.codingPath, debugDescription: ""))
            }
            self.size = size
        }

        /// Docker's --default-address-pool flag: "base=172.80.0.0/16,size=24".
        public init(flag: String) throws(ModelError) {
            var fields: [String: String] = [:]
            for field in flag.split(separator: ",") {
                let parts = field.split(separator: "=", maxSplits: 1).map { String($0).lowercased() }
                guard parts.count == 2, CodingKeys(rawValue: parts[0]) != nil, fields[parts[0]] == nil else {
                    throw .invalidConfiguration(
                        "invalid --default-address-pool \"\(flag)\": expected base=CIDR,size=PREFIXLENGTH")
                }
                fields[parts[0]] = parts[1]
            }
            guard let base = fields["base"], let size = fields["size"].flatMap({ Int($0) }) else {
                throw .invalidConfiguration(
                    "invalid --default-address-pool \"\(flag)\": expected base=CIDR,size=PREFIXLENGTH")
            }
            self.init(base: base, size: size)
        }
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        try refuseUnknownKeys(decoder, known: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        defaultAddressPools = try container.decodeIfPresent([Pool].self, forKey: .defaultAddressPools)
        bip = try container.decodeIfPresent(String.self, forKey: .bip)
        fixedCIDR = try container.decodeIfPresent(String.self, forKey: .fixedCIDR)
        defaultGateway = try container.decodeIfPresent(String.self, forKey: .defaultGateway)
        mtu = try container.integer(.mtu)
        icc = try container.decodeIfPresent(Bool.self, forKey: .icc)
        ip = try container.decodeIfPresent(String.self, forKey: .ip)
        dns = try container.decodeIfPresent([String].self, forKey: .dns)
        ipv6 = try container.decodeIfPresent(Bool.self, forKey: .ipv6)
        fixedCIDRv6 = try container.decodeIfPresent(String.self, forKey: .fixedCIDRv6)
    }

    /// Decodes a file's text. Unknown keys (at any depth) are refused by name; JSON that is
    /// not a document of these keys is refused with what and where.
    public static func decode(_ data: Data) throws(ModelError) -> DaemonFile {
        // JSONDecoder says only "not valid JSON".
        if let detail = jsonSyntaxError(data) { throw .invalidConfiguration("invalid JSON: \(detail)") }
        do {
            return try JSONDecoder().decode(DaemonFile.self, from: data)
        } catch let error as ModelError {
            throw error
        } catch let error as DecodingError {
            throw .invalidConfiguration(describe(error))
        } catch {
            throw .invalidConfiguration("\(error)")
        }
    }

    /// The keys given, with their values as dockerd prints them in a conflict (Go's %v:
    /// strings bare, lists in brackets).
    public var given: [(key: CodingKeys, value: String)] {
        let values: [(CodingKeys, String?)] = [
            (.defaultAddressPools, defaultAddressPools.map { list($0.map { "base=\($0.base),size=\($0.size)" }) }),
            (.bip, bip), (.fixedCIDR, fixedCIDR), (.defaultGateway, defaultGateway), (.mtu, mtu.map(String.init)),
            (.icc, icc.map(String.init)), (.ip, ip), (.dns, dns.map(list)), (.ipv6, ipv6.map(String.init)),
            (.fixedCIDRv6, fixedCIDRv6),
        ]
        return values.compactMap { key, value in value.map { (key, $0) } }
    }

    private func list(_ items: [String]) -> String { "[" + items.joined(separator: " ") + "]" }

    /// Refuses keys given both ways, as dockerd does (it has no precedence between them).
    public static func checkConflicts(flags: DaemonFile, file: DaemonFile) throws(ModelError) {
        let inFile = Dictionary(file.given.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        let conflicts = flags.given.compactMap { key, flagValue in
            inFile[key].map { "\(key.rawValue): (from flag: \(flagValue), from file: \($0))" }
        }
        if !conflicts.isEmpty { throw .conflictingDirectives(conflicts) }
    }

    /// This file with the keys `other` gives (checked for conflicts first) added.
    public func merging(_ other: DaemonFile) -> DaemonFile {
        var merged = self
        merged.defaultAddressPools = other.defaultAddressPools ?? defaultAddressPools
        merged.bip = other.bip ?? bip
        merged.fixedCIDR = other.fixedCIDR ?? fixedCIDR
        merged.defaultGateway = other.defaultGateway ?? defaultGateway
        merged.mtu = other.mtu ?? mtu
        merged.icc = other.icc ?? icc
        merged.ip = other.ip ?? ip
        merged.dns = other.dns ?? dns
        merged.ipv6 = other.ipv6 ?? ipv6
        merged.fixedCIDRv6 = other.fixedCIDRv6 ?? fixedCIDRv6
        return merged
    }

    /// The settings these values make, each refused with the key it came from and the rule.
    public func validated() throws(ModelError) -> NetworkDefaults {
        func refuse(_ key: CodingKeys, _ message: String) -> ModelError {
            .invalidConfiguration("\(key.rawValue): \(message)")
        }
        func address(_ key: CodingKeys, _ text: String) throws(ModelError) -> IPv4Address {
            guard let ip = IPv4Address(text) else {
                throw refuse(key, "\"\(text)\" is not an IPv4 address (Bridgeport's networks are IPv4 only)")
            }
            return ip
        }
        var defaults = NetworkDefaults()
        if let pools = defaultAddressPools {
            guard !pools.isEmpty else {
                throw refuse(.defaultAddressPools, "give at least one {\"base\": CIDR, \"size\": N}, or leave it out")
            }
            defaults.addressPools = []
            for pool in pools {
                let base: IPv4Network
                do { base = try IPv4Network.parse(pool.base) } catch { throw refuse(.defaultAddressPools, "\(error)") }
                defaults.addressPools.append(try AddressPool(base: base, size: pool.size))
            }
        }
        var bridge = DefaultBridgeSettings()
        if let bip {
            let parts = bip.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let ip = IPv4Address(parts[0]), let length = Int(parts[1]),
                (0...32).contains(length), parts[1].allSatisfy(\.isASCII)
            else {
                throw refuse(.bip, "\"\(bip)\" is not an address with its prefix length, like 172.20.0.1/16")
            }
            guard length <= 30 else {
                throw refuse(.bip, "\(bip): the prefix must be /30 or shorter to leave room for containers")
            }
            let subnet = IPv4Network(containing: ip, prefixLength: length)
            guard subnet.hostRange.contains(ip.value) else {
                throw refuse(
                    .bip,
                    "\(bip) is the network's own or broadcast address: give the bridge's, e.g. "
                        + "\(IPv4Address(subnet.hostRange.lowerBound))/\(length)")
            }
            (bridge.bridgeAddress, bridge.bridgeSubnet) = (ip, subnet)
        }
        if let fixedCIDR {
            let range: IPv4Network
            do { range = try IPv4Network.parse(fixedCIDR) } catch { throw refuse(.fixedCIDR, "\(error)") }
            guard range.prefixLength <= 30 else {
                throw refuse(.fixedCIDR, "\(fixedCIDR): the prefix must be /30 or shorter to leave room for containers")
            }
            if let subnet = bridge.bridgeSubnet, !subnet.contains(range) {
                throw refuse(.fixedCIDR, "container subnet \(range) must be a subset of bridge network \(subnet)")
            }
            bridge.fixedCIDR = range
        }
        if let defaultGateway {
            let ip = try address(.defaultGateway, defaultGateway)
            try DefaultBridgeSettings.checkDefaultGateway(ip, in: bridge.bridgeSubnet ?? bridge.fixedCIDR)
            bridge.defaultGateway = ip
        }
        if let mtu {
            guard mtu == 0 || DriverOption.mtus.contains(mtu) else {
                throw .invalidConfiguration(
                    "invalid default MTU: \(mtu) (use \(DriverOption.mtus.lowerBound) to "
                        + "\(DriverOption.mtus.upperBound), or 0 for the kernel's default)")
            }
            bridge.mtu = mtu == 0 ? nil : mtu
        }
        bridge.icc = icc
        bridge.ipv6 = ipv6 == true
        if let fixedCIDRv6 {
            guard ipv6 == true else { throw refuse(.fixedCIDRv6, "it needs \"ipv6\": true") }
            do { bridge.fixedCIDRv6 = try IPv6Network.parse(fixedCIDRv6) } catch {
                throw refuse(.fixedCIDRv6, "\(error)")
            }
            guard bridge.fixedCIDRv6!.prefixLength <= 126 else {
                throw refuse(.fixedCIDRv6, "\(fixedCIDRv6): the prefix must be /126 or shorter")
            }
        }
        defaults.defaultBridge = bridge
        if let ip {
            // An IPv6 default binds containers with IPv6 only (`::` both families, as 0.0.0.0).
            guard let parsed = try? IPAddress(parsing: ip) else {
                throw refuse(.ip, "\"\(ip)\" is not an IP address")
            }
            defaults.hostIP = parsed
        }
        for server in dns ?? [] { defaults.dns.append(try address(.dns, server)) }
        return defaults
    }
}

/// The daemon's settings that shape networks and containers, validated (see DaemonFile).
public struct NetworkDefaults: Sendable, Equatable {
    /// default-address-pools: local networks' automatic subnets.
    public var addressPools = AddressPool.localDefaults
    /// ip: the host address of `-p` without one.
    public var hostIP = IPAddress.unspecified(.ipv4)
    /// dns: the servers of containers without --dns (empty: the host's).
    public var dns: [IPv4Address] = []
    public var defaultBridge = DefaultBridgeSettings()

    public init() {}
}

/// What the daemon's settings say of the default bridge (nil: not set).
public struct DefaultBridgeSettings: Sendable, Equatable {
    /// bip: the bridge's own address, and the subnet its prefix makes.
    public var bridgeAddress: IPv4Address?
    public var bridgeSubnet: IPv4Network?
    public var fixedCIDR: IPv4Network?
    public var defaultGateway: IPv4Address?
    public var mtu: Int?
    public var icc: Bool?
    /// ipv6 and fixed-cidr-v6: the default bridge's IPv6 (off by default, as in Docker).
    public var ipv6 = false
    public var fixedCIDRv6: IPv6Network?

    public init() {}

    /// Docker's rule (ErrInvalidGateway), when the subnet is known.
    static func checkDefaultGateway(_ ip: IPv4Address, in subnet: IPv4Network?) throws(ModelError) {
        if let subnet, !subnet.hostRange.contains(ip.value) {
            throw .invalidConfiguration(
                "\(DaemonFile.CodingKeys.defaultGateway.rawValue): default gateway ip \(ip) must be part of the network \(subnet)"
            )
        }
    }

    /// The default bridge with these settings. Without bip its subnet stays (dockerd keeps
    /// the address its bridge has); fixed-cidr outside that subnet then becomes the subnet,
    /// as dockerd makes it the bridge's network when there is no bip.
    public func applied(to current: Network) throws(ModelError) -> Network {
        var network = current
        if let bridgeSubnet, let bridgeAddress { (network.subnet, network.gateway) = (bridgeSubnet, bridgeAddress) }
        network.ipRange = nil
        if let fixedCIDR {
            if bridgeSubnet == nil, network.subnet?.contains(fixedCIDR) != true {
                (network.subnet, network.gateway) = (fixedCIDR, IPv4Address(fixedCIDR.hostRange.lowerBound))
            }
            network.ipRange = fixedCIDR == network.subnet ? nil : fixedCIDR
        }
        var aux = network.auxAddresses ?? [:]
        aux[Network.defaultGatewayKey] = defaultGateway
        if let defaultGateway { try DefaultBridgeSettings.checkDefaultGateway(defaultGateway, in: network.subnet) }
        network.auxAddresses = aux.isEmpty ? nil : aux
        network.options[DriverOption.mtu] = mtu.map(String.init)
        network.options[BridgeOption.enableICC] = icc.map(String.init)
        // IPv6: fixed-cidr-v6, else the ULA /64 it has (a new one the first time).
        if ipv6 {
            let subnet: IPv6Network
            if let kept = fixedCIDRv6 ?? current.ipv6?.subnet {
                subnet = kept
            } else {
                subnet = try IPAM.chooseSubnet6(avoiding: [])
            }
            network.ipv6 =
                current.ipv6?.subnet == subnet
                ? current.ipv6 : IPv6Settings(subnet: subnet, gateway: subnet.address.advanced(by: 1), userSubnet: true)
        } else {
            network.ipv6 = nil
        }
        return network
    }

    /// What differs between two versions of the default bridge, with daemon.json's names.
    public static func changes(from old: Network, to new: Network) -> [String] {
        func text(_ value: (some CustomStringConvertible)?) -> String { value.map(\.description) ?? "none" }
        let pairs: [(DaemonFile.CodingKeys, String, String)] = [
            (
                .bip, "\(text(old.gateway))/\(text(old.subnet?.prefixLength))",
                "\(text(new.gateway))/\(text(new.subnet?.prefixLength))"
            ),
            (.fixedCIDR, text(old.ipRange), text(new.ipRange)),
            (
                .defaultGateway, text(old.auxAddresses?[Network.defaultGatewayKey]),
                text(new.auxAddresses?[Network.defaultGatewayKey])
            ),
            (.mtu, text(old.mtu), text(new.mtu)),
            (.icc, text(old.iccEnabled), text(new.iccEnabled)),
            (.fixedCIDRv6, text(old.ipv6?.subnet), text(new.ipv6?.subnet)),
        ]
        return pairs.filter { $0.1 != $0.2 }.map { "\($0.0.rawValue) \($0.1) -> \($0.2)" }
    }
}

/// Refuses the keys of the JSON object being decoded that `known` does not name, with
/// their paths ("foo", "default-address-pools[0].bas").
private func refuseUnknownKeys<Keys: CodingKey & CaseIterable>(_ decoder: any Decoder, known: Keys.Type) throws {
    let names = Set(Keys.allCases.map(\.stringValue))
    let unknown = try decoder.container(keyedBy: AnyKey.self).allKeys.filter { !names.contains($0.stringValue) }
    if !unknown.isEmpty {
        throw ModelError.unknownDirectives(unknown.map { path(decoder.codingPath + [$0]) }.sorted())
    }
}

/// Any key of a JSON object.
private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// "default-address-pools[0].size".
private func path(_ keys: [any CodingKey]) -> String {
    keys.reduce("") { path, key in
        if let index = key.intValue { return path + "[\(index)]" }
        return path.isEmpty ? key.stringValue : path + "." + key.stringValue
    }
}

/// A decoding failure in a sentence: where, and what was wrong.
private func describe(_ error: DecodingError) -> String {
    func at(_ context: DecodingError.Context) -> String {
        context.codingPath.isEmpty ? "the document" : "\"\(path(context.codingPath))\""
    }
    switch error {
    case .typeMismatch(let type, let context):
        return context.codingPath.isEmpty
            ? "the file must hold a JSON object" : "\(at(context)) must be \(jsonType(type))"
    case .valueNotFound(let type, let context): return "\(at(context)) must be \(jsonType(type)), not null"
    case .keyNotFound(let key, let context):
        return "\"\(path(context.codingPath + [key]))\" is missing"
    case .dataCorrupted(let context):
        return context.codingPath.isEmpty ? "invalid JSON" : "\(at(context)): \(context.debugDescription)"
    @unknown default: return "\(error)"
    }
}

extension KeyedDecodingContainer {
    /// An integer, decoded as a number: for one that is no Int (1.5, 1e30) the decoder's own
    /// error names no key.
    fileprivate func integer(_ key: Key) throws -> Int? {
        guard let number = try decodeIfPresent(Double.self, forKey: key) else { return nil }
        guard let value = Int(exactly: number) else {
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: codingPath + [key], debugDescription: ""))
        }
        return value
    }
}

/// What JSON a Swift type is decoded from, for messages.
private func jsonType(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type, is Double.Type: "an integer"  // integers are decoded as numbers (see `integer`)
    case is Bool.Type: "true or false"
    case is String.Type: "a string"
    default: "\(type)".hasPrefix("Array") ? "a list" : "an object"
    }
}
