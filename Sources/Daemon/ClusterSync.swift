import Cluster
import FoundationEssentials
import Logging
import Model
import ServiceLifecycle

/// Keeps this host in the cluster while the agent runs: the lease alive, and the agent
/// following the store (a full read, then a watch from the revision after it; a broken
/// watch is read and watched again a second later).
struct ClusterSync: Service {
    let agent: Agent
    let cluster: ClusterStore
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await cluster.keepAlive { _ = await agent.announceLocalEndpoints() } }
                group.addTask { await follow() }
                await group.next()
                group.cancelAll()
            }
        }
    }

    private func follow() async {
        while !Task.isCancelled {
            do {
                let (values, revision) = try await cluster.etcd.range(prefix: ClusterStore.root)
                var networks: [Network] = []
                var endpoints: [String: ClusterEndpoint] = [:]
                var hosts: Set<IPv4Address> = []
                for value in values {
                    if let host = ClusterStore.host(key: value.key) {
                        hosts.insert(host)
                    } else if value.key.hasPrefix(ClusterStore.networks) {
                        if let network = try? ModelJSON.decoder.decode(Network.self, from: value.value) {
                            networks.append(network)
                        }
                    } else if value.key.hasPrefix(ClusterStore.endpoints) {
                        endpoints[value.key] = try? ModelJSON.decoder.decode(ClusterEndpoint.self, from: value.value)
                    }
                }
                await agent.applyClusterSnapshot(networks: networks, endpoints: endpoints, hosts: hosts)
                for try await events in cluster.etcd.watch(prefix: ClusterStore.root, from: revision + 1) {
                    await agent.applyClusterEvents(events)
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("cluster store watch interrupted, reading it again: \(error)")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
