import Model

/// What the embedded DNS answers, as of the agent's last change: built from the registry
/// (and the cluster's containers of other hosts) on the actor, then read by the DNS
/// server's thread without it. A change replaces the whole table, so a container resolves
/// the moment `run` returns, and a removed one is gone at once.
struct NameTable: Sendable {
    /// A container that asks: the networks it resolves names on, in its connection order,
    /// and where the names they don't know go.
    struct Asker: Sendable, Equatable {
        var networkIDs: [String]
        /// `--dns`, else the host's resolvers as the container started; empty when the
        /// container is only on internal networks, which reach nothing outside.
        var upstreams: [IPv4Address]
        /// The network its queries are counted under: the first of them.
        var metricsNetwork: String
    }

    /// One network's names: each (lowercased) name's addresses, and each address's name
    /// for PTR ("name.network", as Docker answers).
    struct NetworkNames: Sendable {
        var name: String
        var addresses: [String: [IPv4Address]] = [:]
        /// The IPv6 addresses of the names that have one (networks with IPv6), for AAAA.
        var addresses6: [String: [IPv6Address]] = [:]
        var reverse: [IPv4Address: String] = [:]
        var reverse6: [IPv6Address: String] = [:]
    }

    var networks: [String: NetworkNames] = [:]
    var askers: [String: Asker] = [:]

    /// No names and no askers: what the servers know before the agent's first change.
    init() {}

    /// The names of every user-defined network, for the containers on them.
    /// `upstreams` gives a container's resolvers (its --dns, else the host's).
    init(registry: Registry, remote: some Collection<ClusterEndpoint>, upstreams: (Container) -> [IPv4Address]) {
        let named = Dictionary(uniqueKeysWithValues: registry.networks.filter(\.hasNames).map { ($0.id, $0) })
        for network in named.values { networks[network.id] = NetworkNames(name: network.name) }
        let containers = Dictionary(uniqueKeysWithValues: registry.containers.map { ($0.id, $0) })
        for endpoint in registry.endpoints {
            // A stopped container has no name, as in Docker, until it starts again.
            guard let network = named[endpoint.networkID], endpoint.ip != nil || endpoint.ip6 != nil,
                let container = containers[endpoint.containerID], container.stopped != true
            else { continue }
            let names = container.dnsNames(aliases: endpoint.aliases ?? [])
            add(names, endpoint.ip, primary: container.name, network: network)
            if let ip6 = endpoint.ip6 { add6(names, ip6, primary: container.name, network: network) }
        }
        for endpoint in remote {
            guard let network = named[endpoint.networkID] else { continue }
            let names = [endpoint.containerName] + (endpoint.aliases ?? []) + [String(endpoint.containerID.prefix(12))]
            add(names, endpoint.ip, primary: endpoint.containerName, network: network)
            if let ip6 = endpoint.ip6, network.ipv6 != nil {
                add6(names, ip6, primary: endpoint.containerName, network: network)
            }
        }
        for container in registry.containers {
            let joined = registry.endpoints(ofContainer: container.id).sorted { $0.order < $1.order }
                .compactMap { named[$0.networkID] }
            guard let first = joined.first else { continue }
            askers[container.id] = Asker(
                networkIDs: joined.map(\.id),
                upstreams: joined.allSatisfy(\.internal) ? [] : upstreams(container),
                metricsNetwork: first.name)
        }
    }

    /// Names with their IPv4 address; an IPv6-only endpoint's (`ip` nil) are known with no
    /// IPv4 address, so that an A query for them has no data instead of being forwarded.
    private mutating func add(_ names: [String], _ ip: IPv4Address?, primary: String, network: Network) {
        for name in names {
            let key = name.lowercased()
            let known = networks[network.id]?.addresses[key] ?? []
            networks[network.id]?.addresses[key] = known + (ip.map { known.contains($0) ? [] : [$0] } ?? [])
        }
        if let ip { networks[network.id]?.reverse[ip] = primary + "." + network.name }
    }

    private mutating func add6(_ names: [String], _ ip: IPv6Address, primary: String, network: Network) {
        for key in names.map({ $0.lowercased() }) where !(networks[network.id]?.addresses6[key]?.contains(ip) ?? false)
        {
            networks[network.id]?.addresses6[key, default: []].append(ip)
        }
        networks[network.id]?.reverse6[ip] = primary + "." + network.name
    }

    /// A name as a container asks it (lowercased, no trailing dot): its addresses on the
    /// networks the asker shares, or only on NETWORK for "name.NETWORK"; nil when none of
    /// them knows it (the name is forwarded).
    func lookup(_ name: String, asker id: String) -> [IPv4Address]? { lookup(name, asker: id, in: \.addresses) }

    /// The IPv6 addresses of a name `lookup` finds (none on networks without IPv6).
    func lookup6(_ name: String, asker id: String) -> [IPv6Address] { lookup(name, asker: id, in: \.addresses6) ?? [] }

    private func lookup<Address: Equatable>(
        _ name: String, asker id: String, in table: KeyPath<NetworkNames, [String: [Address]]>
    ) -> [Address]? {
        guard let asker = askers[id] else { return nil }
        var found: [Address]?
        for networkID in asker.networkIDs {
            guard let network = networks[networkID] else { continue }
            if let addresses = network[keyPath: table][name] {
                found = (found ?? []) + addresses.filter { !(found ?? []).contains($0) }
            } else if name.hasSuffix("." + network.name.lowercased()),
                let addresses = network[keyPath: table][String(name.dropLast(network.name.utf8.count + 1))]
            {
                found = (found ?? []) + addresses.filter { !(found ?? []).contains($0) }
            }
        }
        return found
    }

    /// The name of an address on the asker's networks ("name.network"), for PTR.
    func name(of ip: IPv4Address, asker id: String) -> String? {
        askers[id]?.networkIDs.lazy.compactMap { networks[$0]?.reverse[ip] }.first
    }

    /// ... and of an IPv6 address (ip6.arpa).
    func name(of ip: IPv6Address, asker id: String) -> String? {
        askers[id]?.networkIDs.lazy.compactMap { networks[$0]?.reverse6[ip] }.first
    }
}
