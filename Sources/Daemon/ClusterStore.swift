import Cluster
import Datapath
import FoundationEssentials
import Logging
import Model
import Synchronization

/// An overlay container as the cluster sees it: where it lives and how to reach it.
struct ClusterEndpoint: Codable, Sendable, Hashable {
    var networkID: String
    var ip: IPv4Address
    var mac: MACAddress
    var containerID: String
    var containerName: String
    /// The advertise address of the host it runs on (its VTEP).
    var host: IPv4Address
    /// Its --network-alias names, which other hosts' containers resolve too.
    var aliases: [String]? = nil
    /// Its IPv6 address on a network with IPv6; absent in records of IPv4-only networks
    /// (and of agents before IPv6 overlays), which read back as nil.
    var ip6: IPv6Address? = nil
}

/// The cluster's shared state in etcd, and this host's part in it. Keys:
///
///     /bridgeport/networks/NAME              overlay network (JSON), no lease
///     /bridgeport/vnis/VNI                   network ID: a VNI is handed out once
///     /bridgeport/endpoints/NETWORK_ID/IP    ClusterEndpoint, with the lease of its host
///     /bridgeport/endpoints6/NETWORK_ID/IP6  the same, for its IPv6 address (networks with IPv6)
///     /bridgeport/hosts/IP                   a live agent, with its lease
///
/// Creating a key only when it is absent (an etcd transaction) is what makes a name, a
/// VNI and an address unique across hosts that race; an endpoint's two keys are created
/// in one transaction. The IPv4 key is the endpoint's record, which the hosts follow; the
/// IPv6 key holds its address (it is outside `endpoints/`, so agents that know no IPv6
/// overlay ignore it). Each host's endpoints hang on its lease, kept alive while its
/// agent runs: a host that dies loses them when it expires.
final class ClusterStore: Sendable {
    let etcd: EtcdClient
    let host: IPv4Address
    private let leaseSeconds: Int
    private let leaseFile: String
    private let logger: Logger
    private let currentLease = Mutex<Int64>(0)

    static let root = "/bridgeport/"
    static let networks = root + "networks/"
    static let vnis = root + "vnis/"
    static let endpoints = root + "endpoints/"
    static let endpoints6 = root + "endpoints6/"
    static let hosts = root + "hosts/"
    /// The host a hosts/ key names.
    static func host(key: String) -> IPv4Address? {
        key.hasPrefix(hosts) ? IPv4Address(String(key.dropFirst(hosts.count))) : nil
    }
    /// Docker's overlay driver starts its VXLAN ids at 4096 + 1.
    static let firstVNI: UInt32 = 4097

    init(configuration: AgentConfiguration, logger: Logger) throws {
        guard let store = configuration.clusterStore, let host = configuration.advertiseAddress else {
            throw AgentError.startup("a cluster needs both --cluster-store and --advertise-address")
        }
        etcd = try EtcdClient(endpoint: store, logger: logger)
        self.host = host
        leaseSeconds = configuration.clusterLeaseSeconds
        leaseFile = configuration.stateDirectory + "/cluster-lease"
        self.logger = logger
    }

    var lease: Int64 { currentLease.withLock { $0 } }

    /// Closes the etcd client's connections; the lease stays, for the next start to take up.
    func shutdown() async {
        do { try await etcd.shutdown() } catch { logger.warning("closing the cluster store's client: \(error)") }
    }

    // MARK: Membership

    /// Takes up the lease of the previous run when it is still alive (a quick restart
    /// then changes nothing for the other hosts), else a new one; announces the host.
    func join() async throws {
        if let text = try? String(contentsOfFile: leaseFile, encoding: .utf8),
            let saved = Int64(text.trimmingBlanks()),
            (try? await etcd.keepAlive(lease: saved)) != nil
        {
            currentLease.withLock { $0 = saved }
        } else {
            try await renewLease()
        }
        try await etcd.put(ClusterStore.hosts + host.description, Data(), lease: lease)
    }

    /// A new lease (the old one expired: etcd dropped its keys, which the caller puts back).
    func renewLease() async throws {
        let lease = try await etcd.grantLease(ttl: leaseSeconds)
        currentLease.withLock { $0 = lease }
        try writeInPlace("\(lease)\n", to: leaseFile)
    }

    /// Keeps the lease alive every third of its time to live, until cancelled. When it
    /// expired anyway (etcd unreachable too long), a new one is taken and `lost` is called
    /// to put this host's keys back.
    func keepAlive(lost: @Sendable () async -> Void) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(Double(leaseSeconds) / 3)) } catch { return }  // the agent stops
            do {
                _ = try await etcd.keepAlive(lease: lease)
            } catch EtcdError.leaseExpired {
                logger.warning("the cluster lease expired: announcing this host and its containers again")
                do {
                    try await renewLease()
                    try await etcd.put(ClusterStore.hosts + host.description, Data(), lease: lease)
                    await lost()
                } catch {
                    logger.warning("cannot renew the cluster lease: \(error)")
                }
            } catch  where !Task.isCancelled {
                logger.warning("cannot keep the cluster lease alive: \(error)")
            } catch {
                return  // the agent stops: its call was cancelled, not refused
            }
        }
    }

    // MARK: Networks

    func networks() async throws -> [Network] {
        try await etcd.range(prefix: ClusterStore.networks).values.map {
            try ModelJSON.decoder.decode(Network.self, from: $0.value)
        }
    }

    /// The lowest VNI from `firstVNI` on that no network holds.
    func freeVNI(among networks: [Network]) -> UInt32 {
        let used = Set(networks.compactMap(\.vni))
        return (ClusterStore.firstVNI...).first { !used.contains($0) }!
    }

    /// Records a new network. Throws `networkExists` when another host took the name
    /// first; returns false when its VNI was taken meanwhile (plan again).
    func publish(_ network: Network) async throws -> Bool {
        guard let vni = network.vni else { return false }
        guard try await etcd.create(ClusterStore.vnis + "\(vni)", Data(network.id.utf8)) else { return false }
        guard try await etcd.create(ClusterStore.networks + network.name, try ModelJSON.encoder.encode(network)) else {
            try? await etcd.delete(ClusterStore.vnis + "\(vni)")
            throw ModelError.networkExists(network.name)
        }
        return true
    }

    func unpublish(_ network: Network) async throws {
        try await etcd.delete(ClusterStore.networks + network.name)
        if let vni = network.vni { try await etcd.delete(ClusterStore.vnis + "\(vni)") }
    }

    // MARK: Endpoints

    func endpoints(prefix: String = ClusterStore.endpoints) async throws -> [ClusterEndpoint] {
        try await etcd.range(prefix: prefix).values.compactMap {
            try? ModelJSON.decoder.decode(ClusterEndpoint.self, from: $0.value)
        }
    }

    func endpoints(of network: Network) async throws -> [ClusterEndpoint] {
        try await endpoints(prefix: ClusterStore.endpoints + network.id + "/")
    }

    static func key(_ networkID: String, _ ip: IPv4Address) -> String { endpoints + networkID + "/" + ip.description }
    static func key(_ networkID: String, _ ip6: IPv6Address) -> String {
        endpoints6 + networkID + "/" + ip6.description
    }

    /// The keys an endpoint holds, with its record in each: IPv4, and IPv6 when it has it.
    static func keys(of endpoint: ClusterEndpoint) throws -> [(key: String, value: Data)] {
        let value = try ModelJSON.encoder.encode(endpoint)
        return [(key(endpoint.networkID, endpoint.ip), value)]
            + (endpoint.ip6.map { [(key(endpoint.networkID, $0), value)] } ?? [])
    }

    /// The IPv6 addresses held in the network, by their keys.
    func addresses6(of network: Network) async throws -> Set<IPv6Address> {
        let prefix = ClusterStore.endpoints6 + network.id + "/"
        return Set(
            try await etcd.range(prefix: prefix).values.compactMap {
                IPv6Address(String($0.key.dropFirst(prefix.count)))
            })
    }

    /// Reserves addresses of `network` for a container: `requested` (and `requested6`),
    /// or the lowest free ones; an IPv6 address only on a network with IPv6. Addresses of
    /// the whole cluster count, and so do `alsoUsed` and `alsoUsed6` (this host's own).
    /// Two hosts that race for one address: one creates the keys, the other takes the next.
    func reserve(
        in network: Network, requested: IPv4Address?, requested6: IPv6Address? = nil, containerID: String,
        containerName: String, aliases: [String]?, alsoUsed: Set<IPv4Address>, alsoUsed6: Set<IPv6Address> = []
    ) async throws -> ClusterEndpoint {
        var used = Set(try await endpoints(of: network).map(\.ip)).union(alsoUsed)
        // Every IPv6 address held has its key (the records' ip6 are among them).
        var used6 = network.ipv6 == nil ? alsoUsed6 : try await addresses6(of: network).union(alsoUsed6)
        while true {
            let ip: IPv4Address
            if let requested {
                guard !used.contains(requested) else { throw ModelError.addressInUse(requested, network: network.name) }
                ip = requested
            } else {
                ip = try IPAM.allocate(in: network, used: used)
            }
            var ip6: IPv6Address?
            if let settings = network.ipv6 {
                if let requested6 {
                    guard !used6.contains(requested6) else {
                        throw ModelError.addressInUse6(requested6, network: network.name)
                    }
                    ip6 = requested6
                } else {
                    ip6 = try IPAM.allocate6(in: settings, used: used6, network: network.name)
                }
            }
            var endpoint = ClusterEndpoint(
                networkID: network.id, ip: ip, mac: MACAddress(derivedFrom: ip), containerID: containerID,
                containerName: containerName, host: host, aliases: aliases)
            endpoint.ip6 = ip6
            if try await etcd.create(try ClusterStore.keys(of: endpoint), lease: lease) { return endpoint }
            // Another host took one of them meanwhile: that one is used (neither: freed again, retry).
            if try await etcd.get(ClusterStore.key(network.id, ip)) != nil { used.insert(ip) }
            if let ip6, try await etcd.get(ClusterStore.key(network.id, ip6)) != nil { used6.insert(ip6) }
        }
    }

    /// Gives back a container's addresses: each key that still holds its record (another
    /// host may have taken the address while this one was away: then the key is that one's,
    /// and stays), deleted only if nobody wrote it since it was read.
    func release(networkID: String, ip: IPv4Address, ip6: IPv6Address?, containerID: String) async {
        // The IPv6 key first (a host that follows the IPv4 record finds both free together);
        // each key on its own, so that one that fails leaves no other behind.
        let keys = (ip6.map { [ClusterStore.key(networkID, $0)] } ?? []) + [ClusterStore.key(networkID, ip)]
        for key in keys {
            do {
                guard let held = try await etcd.get(key),
                    (try? ModelJSON.decoder.decode(ClusterEndpoint.self, from: held.value))?.containerID == containerID
                else { continue }
                _ = try await etcd.delete(key, ifModRevision: held.modRevision)
            } catch {
                logger.warning("cannot release \(key) in the cluster store: \(error)")
            }
        }
    }

    /// Puts this host's endpoints back under its current lease (after a restart or an
    /// expired lease). An address another host took meanwhile is reported, not taken; the
    /// endpoint's other address is still put back (its IPv4 record without the IPv6 address
    /// when only that one was taken), so that the other hosts keep reaching it.
    func announce(_ endpoints: [ClusterEndpoint]) async -> [String] {
        var conflicts: [String] = []
        for endpoint in endpoints {
            do {
                var announced = endpoint
                func takenBy(_ key: String, _ address: String) async throws -> Bool {
                    guard let existing = try await etcd.get(key),
                        let other = try? ModelJSON.decoder.decode(ClusterEndpoint.self, from: existing.value),
                        other.containerID != endpoint.containerID
                    else { return false }
                    conflicts.append(
                        "address \(address) of container \(endpoint.containerName) is held by \(other.containerName) on host \(other.host)"
                    )
                    return true
                }
                if let ip6 = endpoint.ip6, try await takenBy(ClusterStore.key(endpoint.networkID, ip6), "\(ip6)") {
                    announced.ip6 = nil
                }
                let ipTaken = try await takenBy(ClusterStore.key(endpoint.networkID, endpoint.ip), "\(endpoint.ip)")
                // The IPv6 key first: a host that follows the IPv4 record finds both taken.
                for (key, value) in try ClusterStore.keys(of: announced).reversed()
                where !(ipTaken && key == ClusterStore.key(endpoint.networkID, endpoint.ip)) {
                    try await etcd.put(key, value, lease: lease)
                }
            } catch {
                conflicts.append("cannot announce \(endpoint.containerName) (\(endpoint.ip)): \(error)")
            }
        }
        return conflicts
    }
}
