import Cluster
import Datapath
import FoundationEssentials
import Model

/// Overlay networks: what the agent writes to the cluster store, and how it follows what
/// the other hosts write there. Everything that touches etcd happens before (or after)
/// the synchronous part of a change, so a change still applies here all at once.
extension Agent {
    static let noCluster =
        "overlay networks span hosts: start the agent with --cluster-store etcd://HOST:PORT --advertise-address IP"

    // MARK: Changes made here

    func createOverlayNetwork(_ request: NetworkRequest) async throws -> Network {
        guard let cluster else { throw AgentError.cluster(Agent.noCluster) }
        // A VNI another host took between our read and our write: read and plan again.
        for _ in 0..<10 {
            let existing = try await cluster.networks()
            if existing.contains(where: { $0.name == request.name }) { throw ModelError.networkExists(request.name) }
            let elsewhere = existing.filter { other in !registry.networks.contains { $0.id == other.id } }
            var network = try registry.planNetwork(
                request, id: randomID(), now: Date(), hostPrefixes: try datapath.hostPrefixes(),
                hostPrefixes6: datapath.hostPrefixes6(), vni: cluster.freeVNI(among: existing),
                otherSubnets: elsewhere.compactMap { n in n.subnet.map { (n.name, $0) } },
                otherSubnets6: elsewhere.compactMap { n in n.ipv6.map { (n.name, $0.subnet) } })
            network.origin = cluster.host
            guard try await cluster.publish(network) else { continue }
            do {
                try addNetwork(network)
                programRemoteEndpoints(of: network)
            } catch {
                try? await cluster.unpublish(network)
                throw error
            }
            return network
        }
        throw AgentError.cluster("the hosts kept taking the same VXLAN ids: try again")
    }

    /// Docker refuses to remove a network that has containers: on any host, here.
    func unpublishOverlayNetwork(_ network: Network) async throws {
        guard let cluster else { throw AgentError.cluster(Agent.noCluster) }
        let attached = try await cluster.endpoints(of: network).filter { $0.host != cluster.host }
        guard attached.isEmpty else {
            throw ModelError.networkHasEndpoints(
                network.name, attached.map { "\($0.containerName) on \($0.host)" }.sorted())
        }
        try await cluster.unpublish(network)
    }

    /// The addresses of an overlay network for a container (IPv6 too on a network with
    /// it), from the cluster store (nil for other drivers, whose addresses are this host's
    /// alone).
    func reserveOverlayAddress(
        on network: Network, requested: String?, requested6: String?, containerID: String, name: String,
        aliases: [String]?
    ) async throws -> ClusterEndpoint? {
        guard network.driver == .overlay else { return nil }
        guard let cluster else { throw AgentError.cluster(Agent.noCluster) }
        let asked = try registry.requestedAddress(requested, on: network)
        let asked6 = try registry.requestedAddress6(requested6, on: network)
        let local = registry.endpoints(inNetwork: network.id)
        return try await cluster.reserve(
            in: network, requested: asked, requested6: asked6, containerID: containerID, containerName: name,
            aliases: aliases.flatMap { $0.isEmpty ? nil : $0 }, alsoUsed: Set(local.compactMap(\.ip)),
            alsoUsed6: Set(local.compactMap(\.ip6)))
    }

    func releaseOverlayAddresses(_ endpoints: [Endpoint]) async {
        guard let cluster else { return }
        for endpoint in endpoints {
            guard let ip = endpoint.ip, (try? registry.network(endpoint.networkID).driver) == .overlay else { continue }
            await cluster.release(
                networkID: endpoint.networkID, ip: ip, ip6: endpoint.ip6, containerID: endpoint.containerID)
        }
    }

    // MARK: Joining

    /// Takes this host's place in the cluster: its lease, and its overlay containers
    /// announced again (they may have expired while no agent ran).
    func joinCluster() async throws -> [String] {
        guard let cluster else { return [] }
        try await cluster.join()
        return await announceLocalEndpoints()
    }

    func announceLocalEndpoints() async -> [String] {
        guard let cluster else { return [] }
        let overlays = Set(registry.networks.filter { $0.driver == .overlay }.map(\.id))
        let local = registry.endpoints.filter { overlays.contains($0.networkID) }.compactMap {
            endpoint -> ClusterEndpoint? in
            guard let ip = endpoint.ip, let mac = endpoint.mac,
                let container = try? registry.container(endpoint.containerID)
            else { return nil }
            return ClusterEndpoint(
                networkID: endpoint.networkID, ip: ip, mac: mac, containerID: container.id,
                containerName: container.name, host: cluster.host, aliases: endpoint.aliases, ip6: endpoint.ip6)
        }
        return await cluster.announce(local)
    }

    // MARK: Following the cluster

    /// The whole state, read at start and after a watch broke: networks are adopted or
    /// forgotten, and the other hosts' containers programmed into the VXLAN devices.
    func applyClusterSnapshot(networks: [Network], endpoints: [String: ClusterEndpoint], hosts: Set<IPv4Address>) {
        guard let cluster else { return }
        setClusterHosts(hosts.union([cluster.host]))
        networks.forEach(adoptClusterNetwork)
        let known = Set(networks.map(\.id))
        for network in registry.networks where network.driver == .overlay && !known.contains(network.id) {
            forgetClusterNetwork(named: network.name)
        }
        let remote = endpoints.filter { $0.value.host != cluster.host }
        for (key, endpoint) in remoteEndpoints where remote[key] != endpoint { removeRemoteEndpoint(key) }
        for (key, endpoint) in remote where remoteEndpoints[key] != endpoint { addRemoteEndpoint(key, endpoint) }
        // Entries the kernel kept from containers that went while no agent ran here.
        for network in registry.networks where network.driver == .overlay {
            let keep = Set(
                remote.values.filter { $0.networkID == network.id }.flatMap { endpoint in
                    [IPAddress.v4(endpoint.ip)] + (endpoint.ip6.map { [.v6($0)] } ?? [])
                })
            for ip in datapath.removeStaleRemoteEndpoints(network: network, keeping: keep) {
                logger.info(
                    "removed the entry of a gone overlay container",
                    metadata: ["network": "\(network.name)", "address": "\(ip)"])
            }
        }
    }

    func applyClusterEvents(_ events: [EtcdWatchEvent]) {
        guard let cluster else { return }
        for event in events {
            switch event {
            case .put(let value) where ClusterStore.host(key: value.key) != nil:
                setClusterHosts(clusterHosts.union(ClusterStore.host(key: value.key).map { [$0] } ?? []))
            case .delete(let key, _) where ClusterStore.host(key: key) != nil:
                setClusterHosts(
                    clusterHosts.subtracting(ClusterStore.host(key: key).map { [$0] } ?? []).union([cluster.host]))
            case .put(let value) where value.key.hasPrefix(ClusterStore.networks):
                if let network = try? ModelJSON.decoder.decode(Network.self, from: value.value) {
                    adoptClusterNetwork(network)
                }
            case .put(let value) where value.key.hasPrefix(ClusterStore.endpoints):
                if let endpoint = try? ModelJSON.decoder.decode(ClusterEndpoint.self, from: value.value),
                    endpoint.host != cluster.host
                {
                    addRemoteEndpoint(value.key, endpoint)
                }
            case .delete(let key, _) where key.hasPrefix(ClusterStore.networks):
                forgetClusterNetwork(named: String(key.dropFirst(ClusterStore.networks.count)))
            case .delete(let key, _) where key.hasPrefix(ClusterStore.endpoints):
                removeRemoteEndpoint(key)
            default:
                break
            }
        }
    }

    /// The hosts the uplinks take VXLAN from: those with a live agent in the store (a host
    /// whose lease expired can no longer send into the overlay).
    private func setClusterHosts(_ hosts: Set<IPv4Address>) {
        guard hosts != clusterHosts else { return }
        do {
            try datapath.setVXLANPeers(hosts, keepingOthers: false)
            clusterHosts = hosts
        } catch {
            logger.error("cannot update the cluster's hosts in the uplink's VXLAN filter: \(error)")
        }
    }

    private func adoptClusterNetwork(_ network: Network) {
        guard network.driver == .overlay, !registry.networks.contains(where: { $0.id == network.id }) else { return }
        if registry.networks.contains(where: { $0.name == network.name }) {
            logger.error(
                "overlay network \(network.name) of the cluster has the name of a network of this host: it is not joined here"
            )
            return
        }
        do {
            try addNetwork(network)
            programRemoteEndpoints(of: network)
        } catch {
            logger.error("cannot join overlay network \(network.name): \(error)")
        }
    }

    private func forgetClusterNetwork(named name: String) {
        guard let network = registry.networks.first(where: { $0.name == name && $0.driver == .overlay }) else { return }
        do {
            try dropNetwork(try registry.planRemoveNetwork(network.id))
        } catch {
            logger.warning("overlay network \(name) was removed from the cluster but stays here: \(error)")
        }
    }

    /// An overlay network's VXLAN device deleted outside Bridgeport is made again at once,
    /// as a start makes a missing one: the device and its tunnel program, then the map
    /// entries of this host's containers and of other hosts'. First, whatever follows, no
    /// entry names the gone device: a redirect to it would be dropped by the kernel,
    /// uncounted. Returns whether the device is back.
    @discardableResult
    func remakeTunnel(of network: Network) -> Bool {
        guard let device = network.vxlanName else { return false }
        datapath.forgetTunnel(of: network)
        guard cluster != nil else { return false }
        do { _ = try datapath.ensureNetwork(network) } catch {
            logger.error(
                "the VXLAN device of an overlay network was deleted outside Bridgeport and cannot be made again: its containers reach other hosts' after the agent's next start",
                metadata: ["network": "\(network.name)", "interface": "\(device)", "error": "\(error)"])
            return false
        }
        // One container that fails keeps neither the others nor other hosts' entries from
        // being written; its own traffic from other hosts crosses the bridge meanwhile.
        for endpoint in registry.endpoints where endpoint.networkID == network.id {
            let namespace = configuration.namespacePath(endpoint.containerID)
            guard datapath.interfaceExists(endpoint, namespace: namespace) else { continue }
            do { try datapath.configure(endpoint, network: network, namespace: namespace) } catch {
                logger.warning(
                    "an overlay container's entry could not be written again: what other hosts send it crosses the bridge",
                    metadata: [
                        "network": "\(network.name)", "container": "\(endpoint.containerID)", "error": "\(error)",
                    ])
            }
        }
        programRemoteEndpoints(of: network)
        logger.warning(
            "the VXLAN device of an overlay network was deleted outside Bridgeport: it is made again",
            metadata: ["network": "\(network.name)", "interface": "\(device)"])
        return true
    }

    private func programRemoteEndpoints(of network: Network) {
        for (key, endpoint) in remoteEndpoints where endpoint.networkID == network.id {
            addRemoteEndpoint(key, endpoint)
        }
    }

    /// Another host's container: its address answers ARP on our VXLAN device, and its
    /// frames go to its host. Kept even before its network is here (programmed then).
    private func addRemoteEndpoint(_ key: String, _ endpoint: ClusterEndpoint) {
        if let old = remoteEndpoints[key], old != endpoint { removeRemoteEndpoint(key) }
        remoteEndpoints[key] = endpoint
        guard let network = registry.networks.first(where: { $0.id == endpoint.networkID }) else { return }
        do {
            try datapath.setRemoteEndpoint(
                network: network, ip: endpoint.ip, ip6: endpoint.ip6, mac: endpoint.mac, host: endpoint.host)
        } catch {
            logger.error("cannot program \(endpoint.containerName) (\(endpoint.ip) on \(endpoint.host)): \(error)")
        }
        publishNames()
    }

    private func removeRemoteEndpoint(_ key: String) {
        guard let endpoint = remoteEndpoints.removeValue(forKey: key) else { return }
        guard let network = registry.networks.first(where: { $0.id == endpoint.networkID }) else { return }
        datapath.removeRemoteEndpoint(
            network: network, ip: endpoint.ip, ip6: endpoint.ip6, mac: endpoint.mac, host: endpoint.host)
        publishNames()
        logger.info(
            "overlay container of another host gone",
            metadata: ["container": "\(endpoint.containerName)", "host": "\(endpoint.host)"])
    }
}
