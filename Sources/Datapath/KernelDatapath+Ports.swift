import BPF
import FoundationEssentials
import Links
import Logging
import Model

/// Published ports: the maps, and the host ports held for them.
extension KernelDatapath {
    /// Tells the programs which addresses are the host's (published ports answer on those).
    public func refreshHostAddresses() throws {
        try programs.setHostAddresses(try links.addresses().map { IPv4Address($0.address) })
        try programs.setHostAddresses6(NetworkNamespace.ipv6Addresses().map { IPv6Address(bytes: $0.address) })
    }

    /// Publishes a container's ports on the address of its first bridge endpoint, holding
    /// their host ports first.
    public func publish(_ container: Container, registry: Registry) throws {
        guard let target = portTarget(container, registry) else { return }
        // Restricted ports stay restricted from their first packet: their allow lists with them.
        let published = container.publishedPorts.map { target.published($0, allowed: container.allowed($0)) }
        try hostPorts.hold(published.filter { !$0.directOnly }.map(\.mapping))  // a routed family maps no host port
        try programs.publish(published)
    }

    public func unpublish(_ container: Container) {
        programs.unpublish(container.ports)
        hostPorts.release(container.ports)
    }

    /// Makes the port and allow maps match every container of the registry (start-up,
    /// connect, disconnect, `port allow`).
    public func syncPorts(_ registry: Registry) throws {
        let attached = registry.attachments.flatMap { attachment -> [Published] in
            guard let index = links.index(of: attachment.hostInterface) else { return [] }
            return attachment.ports.map {
                Published(mapping: $0, ip: attachment.ip, ip6: attachment.ip6, ifindex: UInt32(index), allowed: nil)
            }
        }
        let published = registry.containers.flatMap { container -> [Published] in
            guard let target = portTarget(container, registry) else { return [] }
            return container.publishedPorts.map { target.published($0, allowed: container.allowed($0)) }
        }
        // A routed network's ports have no host port to hold. CNI runtimes' ports are theirs
        // to hold, as with the portmap plugin: Podman binds them itself after the ADD (conmon
        // holds them while the container runs), and fails to start if they are taken.
        // dockerd's remote driver holds none: the agent holds those.
        let held =
            published.filter { !$0.directOnly }.map(\.mapping)
            + registry.attachments.filter(\.agentHoldsHostPorts).flatMap(\.ports)
        for (port, error) in hostPorts.sync(held) {
            logger.warning(
                "a published host port is not held: host processes may use it",
                metadata: ["port": "\(port.proto.rawValue) \(port)", "error": "\(error)"])
        }
        try programs.syncPorts(published + attached)
    }

    /// Where a container's ports lead: its first bridge endpoint (its IPv6 address too, on a
    /// dual-stack network), and whether each family is routed there (gateway_mode_ipv4,
    /// gateway_mode_ipv6: its published container ports are reached by direct routing only).
    private func portTarget(_ container: Container, _ registry: Registry) -> PortDestination? {
        for endpoint in registry.endpoints(ofContainer: container.id) {
            if endpoint.ip != nil || endpoint.ip6 != nil, let name = endpoint.hostInterface,
                let index = links.index(of: name)
            {
                let network = try? registry.network(endpoint.networkID)
                return PortDestination(
                    ip: endpoint.ip, ip6: endpoint.ip6, ifindex: UInt32(index), routed: network?.routedMode ?? false,
                    routed6: network?.gatewayMode6 == .routed)
            }
        }
        return nil
    }

    private struct PortDestination {
        var ip: IPv4Address?
        var ip6: IPv6Address?
        var ifindex: UInt32
        var routed: Bool
        var routed6: Bool

        func published(_ mapping: PortMapping, allowed: [IPNetwork]?) -> Published {
            let directOnly: Bool
            switch mapping.hostIP {
            case .v4: directOnly = routed
            case .v6: directOnly = routed6
            }
            return Published(
                mapping: mapping, ip: ip, ip6: ip6, ifindex: ifindex, allowed: allowed, directOnly: directOnly)
        }
    }

    /// True when a socket other than the agent's holds the host port.
    public func hostPortInUse(_ port: HostPort) -> Bool { hostPorts.inUseByOthers(port) }
}
