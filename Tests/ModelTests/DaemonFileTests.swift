import Foundation
import Model
import PropertyBased
import Testing

/// daemon.json: what dockerd accepts and refuses, the settings it makes, and how they shape
/// the default bridge, new networks and published ports.
@Suite struct DaemonFileRules {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func decode(_ text: String) throws(ModelError) -> DaemonFile { try DaemonFile.decode(Data(text.utf8)) }

    func refusal(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "accepted"
    }

    @Test func everyKeyIsRead() throws {
        let file = try decode(
            """
            {"default-address-pools": [{"base": "10.10.0.0/16", "size": 24}], "bip": "10.1.0.1/24",
             "fixed-cidr": "10.1.0.128/25", "default-gateway": "10.1.0.254", "mtu": 1400, "icc": false,
             "ip": "127.0.0.1", "dns": ["198.18.0.53"]}
            """)
        let defaults = try file.validated()
        #expect(defaults.addressPools.map(\.description) == ["base=10.10.0.0/16,size=24"])
        #expect(defaults.hostIP == .v4(.loopback))
        #expect(defaults.dns == [IPv4Address(198, 18, 0, 53)])
        let bridge = defaults.defaultBridge
        #expect(bridge.bridgeAddress?.description == "10.1.0.1" && bridge.bridgeSubnet?.description == "10.1.0.0/24")
        #expect(bridge.fixedCIDR?.description == "10.1.0.128/25" && bridge.defaultGateway?.description == "10.1.0.254")
        #expect(bridge.mtu == 1400 && bridge.icc == false)
        #expect(try decode("{}") == DaemonFile())
    }

    @Test func refusalsAsDockerdWordsThem() {
        #expect(
            refusal { _ = try decode(#"{"bip": "10.1.0.1/24", "foo": 1, "log-level": "debug"}"#) }
                == "the following directives don't match any configuration option: foo, log-level")
        #expect(
            refusal { _ = try decode(#"{"default-address-pools": [{"base": "10.0.0.0/8", "size": 24, "sise": 2}]}"#) }
                == "the following directives don't match any configuration option: default-address-pools[0].sise")
        #expect(refusal { _ = try decode("{\"bip\": ") }.hasPrefix("invalid JSON"))
        #expect(refusal { _ = try decode("[]") } == "the file must hold a JSON object")
        #expect(refusal { _ = try decode(#"{"mtu": "1400"}"#) } == "\"mtu\" must be an integer")
        #expect(refusal { _ = try decode(#"{"dns": "8.8.8.8"}"#) } == "\"dns\" must be a list")
        #expect(
            refusal { _ = try decode(#"{"default-address-pools": [{"base": "10.0.0.0/8"}]}"#) }
                == "\"default-address-pools[0].size\" is missing")

        var flags = DaemonFile()
        flags.dns = ["1.1.1.1"]
        flags.mtu = 1400
        var file = DaemonFile()
        file.dns = ["8.8.8.8", "8.8.4.4"]
        file.bip = "10.1.0.1/24"
        #expect(
            refusal { try DaemonFile.checkConflicts(flags: flags, file: file) }
                == "the following directives are specified both as a flag and in the configuration file: "
                + "dns: (from flag: [1.1.1.1], from file: [8.8.8.8 8.8.4.4])")
        #expect(file.merging(flags).mtu == 1400 && file.merging(flags).bip == "10.1.0.1/24")
    }

    @Test func badValuesAreRefusedWithTheirKey() {
        func refused(_ text: String) -> String { refusal { _ = try decode(text).validated() } }
        #expect(refused(#"{"bip": "10.1.0.0"}"#).hasPrefix("bip: \"10.1.0.0\" is not an address with its prefix"))
        #expect(refused(#"{"bip": "10.1.0.0/24"}"#).hasPrefix("bip: 10.1.0.0/24 is the network's own"))
        #expect(refused(#"{"bip": "10.1.0.1/31"}"#).hasPrefix("bip: 10.1.0.1/31: the prefix must be /30"))
        #expect(
            refused(#"{"bip": "10.1.0.1/24", "fixed-cidr": "10.2.0.0/24"}"#)
                == "fixed-cidr: container subnet 10.2.0.0/24 must be a subset of bridge network 10.1.0.0/24")
        #expect(refused(#"{"fixed-cidr": "10.2.0.1/24"}"#).hasPrefix("fixed-cidr: invalid subnet \"10.2.0.1/24\""))
        #expect(
            refused(#"{"bip": "10.1.0.1/24", "default-gateway": "10.2.0.1"}"#)
                == "default-gateway: default gateway ip 10.2.0.1 must be part of the network 10.1.0.0/24")
        #expect(refused(#"{"mtu": -1}"#).hasPrefix("invalid default MTU: -1"))
        #expect(refused(#"{"mtu": 70000}"#).hasPrefix("invalid default MTU: 70000"))
        #expect(refused(#"{"ip": "::1%lo"}"#).hasPrefix("ip: \"::1%lo\" is not an IP address"))
        #expect(refused(#"{"dns": ["8.8.8.8", "dns.example"]}"#).hasPrefix("dns: \"dns.example\" is not an IPv4"))
        #expect(refused(#"{"default-address-pools": []}"#).hasPrefix("default-address-pools: give at least one"))
        #expect(
            refused(#"{"default-address-pools": [{"base": "10.0.0.0/16", "size": 8}]}"#)
                == "invalid default-address-pools entry base=10.0.0.0/16,size=8: the size must be from 16 "
                + "(the base's prefix length) to 30")
        #expect(refused(#"{"default-address-pools": [{"base": "10.0.0.0/16", "size": 31}]}"#).contains("to 30"))
        #expect(refused(#"{"mtu": 0}"#) == "accepted")
    }

    @Test func poolFlags() throws {
        #expect(
            try DaemonFile.Pool(flag: "base=10.10.0.0/16,size=24") == DaemonFile.Pool(base: "10.10.0.0/16", size: 24))
        for bad in [
            "10.10.0.0/16", "base=10.10.0.0/16", "base=10.10.0.0/16,size=x", "base=1,base=2,size=3", "x=1,size=2",
        ] {
            #expect(refusal { _ = try DaemonFile.Pool(flag: bad) }.hasPrefix("invalid --default-address-pool"))
        }
    }

    @Test func poolsGiveSubnetsInOrderSkippingUsedOnes() throws {
        let pools = [try AddressPool(base: IPv4Network.parse("10.10.0.0/16"), size: 24)]
        #expect(try IPAM.chooseSubnet(avoiding: [], pools: pools).description == "10.10.0.0/24")
        let used = try ["10.10.0.0/23", "10.10.2.7/32"].map { try IPv4Network.parse($0) }
        #expect(try IPAM.chooseSubnet(avoiding: used, pools: pools).description == "10.10.3.0/24")
        #expect(throws: ModelError.poolsExhausted) {
            try IPAM.chooseSubnet(avoiding: [IPv4Network.parse("10.0.0.0/8")], pools: pools)
        }
        // A pool of 2^30 subnets costs what the networks in use cost.
        let huge = [try AddressPool(base: IPv4Network.parse("0.0.0.0/0"), size: 30)]
        let blocks = try (0..<200).map { try IPv4Network.parse("\($0).0.0.0/8") }
        #expect(try IPAM.chooseSubnet(avoiding: blocks, pools: huge).description == "200.0.0.0/30")
    }

    @Test func theDefaultBridgeTakesTheSettings() throws {
        var defaults = try decode(
            #"{"bip": "10.1.0.1/24", "fixed-cidr": "10.1.0.128/25", "default-gateway": "10.1.0.254", "mtu": 1400, "icc": false}"#
        ).validated()
        var registry = Registry(
            networks: try Registry.predefinedNetworks(now: now, hostPrefixes: [], defaults: defaults))
        registry.defaults = defaults
        let bridge = try #require(registry.defaultNetwork)
        #expect(bridge.subnet?.description == "10.1.0.0/24" && bridge.gateway?.description == "10.1.0.1")
        #expect(bridge.ipRange?.description == "10.1.0.128/25")
        #expect(bridge.routeGateway?.description == "10.1.0.254" && bridge.mtu == 1400 && !bridge.iccEnabled)
        #expect(try registry.plannedDefaultBridge() == nil)

        // Addresses come from fixed-cidr (its first is a host address of the subnet).
        let (_, first) = try registry.planContainer(ContainerRequest(name: "a"), id: randomID(), now: now)
        #expect(first.first?.ip?.description == "10.1.0.128")

        // Without bip, fixed-cidr outside the bridge's subnet becomes its subnet.
        defaults = try decode(#"{"fixed-cidr": "10.7.0.0/24"}"#).validated()
        registry.defaults = defaults
        let moved = try #require(try registry.plannedDefaultBridge())
        #expect(moved.subnet?.description == "10.7.0.0/24" && moved.gateway?.description == "10.7.0.1")
        #expect(moved.ipRange == nil && moved.auxAddresses == nil && moved.mtu == nil && moved.iccEnabled)
        #expect(
            DefaultBridgeSettings.changes(from: bridge, to: moved) == [
                "bip 10.1.0.1/24 -> 10.7.0.1/24", "fixed-cidr 10.1.0.128/25 -> none",
                "default-gateway 10.1.0.254 -> none", "mtu 1400 -> none", "icc false -> true",
            ])
        #expect(
            throws: ModelError.invalidConfiguration(
                "default-gateway: default gateway ip 10.9.0.1 must be part of the network 10.7.0.0/24")
        ) {
            var wrong = defaults
            wrong.defaultBridge.defaultGateway = IPv4Address(10, 9, 0, 1)
            registry.defaults = wrong
            _ = try registry.plannedDefaultBridge()
        }

        // A container on it (running or not) keeps the bridge as it is.
        registry.defaults = defaults
        let (container, endpoint) = try registry.planContainer(ContainerRequest(name: "web"), id: randomID(), now: now)
        registry.containers.append(container)
        registry.endpoints += endpoint
        #expect(throws: ModelError.self) { try registry.plannedDefaultBridge() }
        #expect(
            refusal { _ = try registry.plannedDefaultBridge() }.hasSuffix(
                "containers use it: web; remove them, or restore the settings it has"))
    }

    @Test func theDefaultBridgeMayHaveIPv6() throws {
        let defaults = try decode(#"{"ipv6": true, "fixed-cidr-v6": "fd00:17::/64"}"#).validated()
        var registry = Registry(
            networks: try Registry.predefinedNetworks(now: now, hostPrefixes: [], defaults: defaults))
        registry.defaults = defaults
        let bridge = try #require(registry.defaultNetwork)
        #expect(bridge.ipv6?.subnet.description == "fd00:17::/64" && bridge.ipv6?.gateway.description == "fd00:17::1")
        let (_, endpoints) = try registry.planContainer(ContainerRequest(name: "a"), id: randomID(), now: now)
        #expect(endpoints.first?.ip6?.description == "fd00:17::2")
        #expect(try registry.plannedDefaultBridge() == nil)
        // Without a subnet, a ULA /64 that stays the same from one start to the next.
        let ula = try decode(#"{"ipv6": true}"#).validated()
        var other = Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: [], defaults: ula))
        other.defaults = ula
        #expect((other.defaultNetwork?.ipv6?.subnet.address.value ?? 0) >> 120 == 0xfd)
        #expect(try other.plannedDefaultBridge() == nil)
        #expect(throws: ModelError.invalidConfiguration(#"fixed-cidr-v6: it needs "ipv6": true"#)) {
            try decode(#"{"fixed-cidr-v6": "fd00:17::/64"}"#).validated()
        }
        #expect(try Registry.predefinedNetworks(now: now, hostPrefixes: []).first?.ipv6 == nil, "off by default")
    }

    @Test func poolsAndHostAddressShapeNewNetworksAndPorts() throws {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
        registry.defaults = try decode(
            #"{"default-address-pools": [{"base": "10.20.0.0/16", "size": 26}], "ip": "127.0.0.1"}"#
        ).validated()
        let network = try registry.planNetwork(NetworkRequest(name: "n"), id: randomID(), now: now, hostPrefixes: [])
        #expect(network.subnet?.description == "10.20.0.0/26")
        let (container, _) = try registry.planContainer(
            ContainerRequest(name: "p", ports: ["8080:80", "0.0.0.0:8081:81"]), id: randomID(), now: now)
        #expect(container.ports.map(\.hostIP) == [.v4(.loopback), .v4(.any)])
    }
}

/// --aux-address and -o com.docker.network.driver.mtu on `network create`.
@Suite struct NetworkOptionRules {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func plan(_ request: NetworkRequest, in registry: Registry = Registry()) throws(ModelError) -> Network {
        try registry.planNetwork(request, id: randomID(), now: now, hostPrefixes: [])
    }

    func request(
        subnet: String? = "10.9.0.0/24", aux: [String] = [], options: [String: String] = [:], driver: String = "bridge"
    )
        -> NetworkRequest
    {
        var request = NetworkRequest(name: "n", driver: driver, subnet: subnet, options: options)
        request.auxAddresses = aux
        return request
    }

    @Test func auxAddressesAreKeptFromContainers() throws {
        let network = try plan(request(aux: ["router=10.9.0.2", "dns=10.9.0.3"]))
        #expect(network.auxAddresses == ["router": IPv4Address(10, 9, 0, 2), "dns": IPv4Address(10, 9, 0, 3)])
        var registry = Registry(networks: [network])
        let (_, endpoint) = try registry.planContainer(
            ContainerRequest(name: "a", network: "n"), id: randomID(), now: now)
        #expect(endpoint.first?.ip?.description == "10.9.0.4")
        registry.containers = []
        #expect(throws: ModelError.addressInUse(IPv4Address(10, 9, 0, 2), network: "n")) {
            _ = try registry.planContainer(
                ContainerRequest(name: "b", network: "n", ip: "10.9.0.2"), id: randomID(), now: now)
        }
    }

    @Test func auxAddressRefusals() {
        #expect(throws: ModelError.noSubnetForAuxAddress("10.9.9.9")) { try plan(request(aux: ["a=10.9.9.9"])) }
        #expect(throws: ModelError.noSubnetForAuxAddress("10.9.0.2")) {
            try plan(request(subnet: nil, aux: ["a=10.9.0.2"]))
        }
        #expect(throws: ModelError.noSubnetForAuxAddress("")) { try plan(request(aux: ["a"])) }
        #expect(throws: ModelError.noSubnetForAuxAddress("x")) { try plan(request(aux: ["a=x"])) }
        #expect(throws: ModelError.auxAddressInUse(name: "gw", IPv4Address(10, 9, 0, 1))) {
            try plan(request(aux: ["gw=10.9.0.1"]))
        }
        #expect(throws: ModelError.auxAddressInUse(name: "b", IPv4Address(10, 9, 0, 5))) {
            try plan(request(aux: ["a=10.9.0.5", "b=10.9.0.5"]))
        }
        #expect(
            ModelError.noSubnetForAuxAddress("10.9.9.9").description == "no matching subnet for aux-address 10.9.9.9")
    }

    @Test func mtuOption() throws {
        let key = DriverOption.mtu
        #expect(try plan(request(options: [key: "1400"])).mtu == 1400)
        #expect(try plan(request(options: [key: "0"])).mtu == nil)
        #expect(throws: ModelError.invalidConfiguration("failed to parse \(key) value: abc (expected an integer)")) {
            try plan(request(options: [key: "abc"]))
        }
        #expect(
            throws: ModelError.invalidConfiguration("invalid MTU number: -5 (use 68 to 65535, or 0 for the default)")
        ) {
            try plan(request(options: [key: "-5"]))
        }
        #expect(throws: ModelError.self) { try plan(request(options: [key: "67"])) }
        #expect(throws: ModelError.self) { try plan(request(options: [key: "65536"])) }
        // Drivers without a bridge ignore it, as Docker ignores options a driver does not know.
        #expect(try plan(request(options: [key: "abc"], driver: "macvlan")).mtu == nil)
    }
}

/// Generated daemon.json documents: any mix of known, unknown and mistyped keys decodes
/// to the values written or is refused naming the keys; valid values validate to the
/// settings they say, invalid ones are refused naming their key.
@Suite struct DaemonFileProperties {
    static let inputs = 2000

    /// Known keys with values of their JSON type and of other types; unknown keys.
    static let known: [(key: String, good: [String], bad: [String])] = [
        ("default-address-pools", [#"[{"base": "10.10.0.0/16", "size": 24}]"#, "[]"], ["{}", "[1]", #""p""#]),
        ("bip", [#""10.1.0.1/24""#, #""x""#], ["1", "[]"]), ("fixed-cidr", [#""10.1.0.0/25""#], ["true"]),
        ("default-gateway", [#""10.1.0.9""#], ["{}"]), ("mtu", ["1400", "0", "-3"], ["1.5", #""1400""#, "true"]),
        ("icc", ["true", "false"], ["1", #""false""#]), ("ip", [#""127.0.0.1""#], ["[]"]),
        ("dns", [#"["8.8.8.8"]"#, "[]"], [#""8.8.8.8""#, "[1]"]),
    ]
    static let unknown = ["foo", "Bip", "log-level", "dns-search", "hosts"]

    @Test func anyDocumentDecodesOrIsRefusedByKey() async {
        let entry = zip(Gen<Int>.value(in: 0..<13), Gen<Int>.value(in: 0...9)).array(of: 0...6)
        await propertyCheck(count: Self.inputs, input: entry) { entries in
            var members: [(key: String, value: String, bad: Bool)] = []
            for (pick, variant) in entries {
                let member: (String, String, Bool)
                if pick < Self.known.count {
                    let (key, good, bad) = Self.known[pick]
                    member =
                        variant >= 7 ? (key, bad[variant % bad.count], true) : (key, good[variant % good.count], false)
                } else {
                    member = (Self.unknown[pick - Self.known.count], "1", false)
                }
                if !members.contains(where: { $0.key == member.0 }) { members.append(member) }
            }
            let text = "{" + members.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
            let unknownKeys = members.map(\.key).filter { Self.unknown.contains($0) }.sorted()
            do throws(ModelError) {
                let file = try DaemonFile.decode(Data(text.utf8))
                #expect(unknownKeys.isEmpty && !members.contains { $0.bad }, "\(text) was accepted")
                #expect(Set(file.given.map(\.key.rawValue)) == Set(members.map(\.key)), "\(text)")
            } catch .unknownDirectives(let keys) {
                #expect(keys == unknownKeys, "\(text)")
            } catch .invalidConfiguration(let message) {
                #expect(unknownKeys.isEmpty, "\(text): \(message)")
                #expect(members.contains { $0.bad && message.contains("\"\($0.key)") }, "\(text): \(message)")
            } catch {
                Issue.record("\(text): \(error)")
            }
        }
    }

    private static let octet = Gen<UInt8>.value(in: 0...255)
    private static let address = zip(octet, octet, octet, octet).map { IPv4Address($0, $1, $2, $3) }

    @Test func validSettingsSayWhatTheyWrite() async {
        let input = zip(
            Self.address, Gen<Int>.value(in: 8...30), Gen<Int>.value(in: 0...4), Gen<Int>.value(in: 68...9000),
            Gen<Int>.value(in: 0...3))
        await propertyCheck(count: Self.inputs, input: input) { ip, length, deeper, mtu, poolExtra in
            let subnet = IPv4Network(containing: ip, prefixLength: length)
            let bridge = IPv4Address(subnet.hostRange.lowerBound)
            let range = IPv4Network(containing: ip, prefixLength: min(30, length + deeper))
            let gateway = IPv4Address(subnet.hostRange.upperBound)
            let size = min(30, length + poolExtra)
            var file = DaemonFile()
            (file.bip, file.fixedCIDR, file.defaultGateway) = ("\(bridge)/\(length)", "\(range)", "\(gateway)")
            (file.mtu, file.icc, file.ip, file.dns) = (mtu, mtu % 2 == 0, "\(ip)", ["\(ip)"])
            file.defaultAddressPools = [DaemonFile.Pool(base: "\(subnet)", size: size)]
            let decoded = try DaemonFile.decode(JSONEncoder().encode(file))
            #expect(decoded == file)
            let settings = try decoded.validated()
            #expect(settings.defaultBridge.bridgeSubnet == subnet && settings.defaultBridge.bridgeAddress == bridge)
            #expect(settings.defaultBridge.fixedCIDR == range && settings.defaultBridge.defaultGateway == gateway)
            #expect(settings.defaultBridge.mtu == mtu && settings.hostIP == .v4(ip) && settings.dns == [ip])
            let pool = try #require(settings.addressPools.first)
            let chosen = try IPAM.chooseSubnet(avoiding: [], pools: settings.addressPools)
            #expect(chosen.prefixLength == size && pool.base.contains(chosen))

            // One value out of its rule is refused, naming its key.
            var wrong = file
            switch mtu % 4 {
            case 0: wrong.mtu = -mtu
            case 1: wrong.defaultAddressPools = [DaemonFile.Pool(base: "\(subnet)", size: length - 1 - mtu % 7)]
            case 2:
                wrong.fixedCIDR =
                    "\(IPv4Network(containing: IPv4Address(subnet.broadcast.value &+ 1), prefixLength: length))"
            default: wrong.defaultGateway = "\(subnet.broadcast)"
            }
            let key = ["mtu", "default-address-pools", "fixed-cidr", "default-gateway"][mtu % 4]
            #expect(throws: ModelError.self) { try wrong.validated() }
            do { _ = try wrong.validated() } catch {
                #expect("\(error)".contains(key == "mtu" ? "MTU" : key), "\(error)")
            }
        }
    }

    @Test func anyPoolIsAcceptedExactlyWhenItsSizeFits() async {
        let input = zip(Self.address, Gen<Int>.value(in: 0...32), Gen<Int>.value(in: -2...34))
        await propertyCheck(count: Self.inputs, input: input) { ip, length, size in
            let base = IPv4Network(containing: ip, prefixLength: length)
            let fits = size >= length && size <= 30
            do throws(ModelError) {
                let pool = try AddressPool(base: base, size: size)
                #expect(fits, "\(base) size \(size) accepted")
                let used = [IPv4Network(containing: ip, prefixLength: min(32, size + 1))]
                if let subnet = try? IPAM.chooseSubnet(avoiding: used, pools: [pool]) {
                    #expect(base.contains(subnet) && subnet.prefixLength == size && !subnet.overlaps(used[0]))
                } else {
                    #expect(base.prefixLength == size, "only a pool of one subnet runs out here")
                }
            } catch {
                #expect(!fits, "\(base) size \(size): \(error)")
            }
        }
    }
}
