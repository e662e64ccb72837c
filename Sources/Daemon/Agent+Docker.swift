import Datapath
import FoundationEssentials
import Model

/// Docker's remote network driver (libnetwork's plugin protocol): dockerd hands out the
/// networks' pools and the endpoints' addresses (its own IPAM); Bridgeport makes the
/// bridge and veths and applies its policy, counters and published ports. A Docker
/// network is a Bridgeport bridge network with the same ID; a joined endpoint is an
/// Attachment on it, so it survives agent restarts as CNI's do.
extension Agent {
    static func dockerNetworkName(_ id: String) -> String { "docker-" + id.prefix(12) }

    func dockerCreateNetwork(
        id: String, pool: String, gateway: String?, pool6: String? = nil, gateway6: String? = nil,
        options: [String: String]
    ) throws {
        guard !registry.networks.contains(where: { $0.id == id }) else { return }
        var request = NetworkRequest(
            name: Agent.dockerNetworkName(id), driver: "bridge", subnet: pool,
            gateway: gateway.map { String($0.split(separator: "/")[0]) }, options: options)
        if let pool6 {
            (request.ipv6, request.subnet6) = (true, pool6)
            request.gateway6 = gateway6.map { String($0.split(separator: "/")[0]) }
        }
        try addNetwork(
            try registry.planNetwork(request, id: id, now: Date(), hostPrefixes: try datapath.hostPrefixes()))
    }

    func dockerDeleteNetwork(id: String) throws {
        guard let network = registry.networks.first(where: { $0.id == id }) else {
            throw ModelError.networkNotFound(id)
        }
        if let joined = registry.attachments.first(where: { $0.networkID == id }) {
            throw ModelError.networkHasEndpoints(network.name, [joined.containerID])
        }
        try dropNetwork(try registry.planRemoveNetwork(id))
        for pending in dockerEndpoints.values where pending.networkID == id {
            try dockerDeleteEndpoint(endpoint: pending.id)
        }
    }

    /// Records the address Docker gave; returns the MAC when Docker gave none.
    func dockerCreateEndpoint(
        network id: String, endpoint: String, address: String, address6: String? = nil, mac: String?
    ) throws -> MACAddress? {
        guard let network = registry.networks.first(where: { $0.id == id }), let subnet = network.subnet else {
            throw ModelError.networkNotFound(id)
        }
        guard let ip = IPv4Address(address.split(separator: "/").first ?? ""), subnet.hostRange.contains(ip.value)
        else {
            throw ModelError.invalidIP(address, "the endpoint's address must be a host address of \(subnet)")
        }
        let given = mac.flatMap { $0.isEmpty ? nil : MACAddress($0) }
        var created = DockerEndpoint(id: endpoint, networkID: id, ip: ip, mac: given ?? MACAddress(derivedFrom: ip))
        if let address6, !address6.isEmpty {
            guard let v6 = network.ipv6, let ip6 = IPv6Address(address6.split(separator: "/").first ?? ""),
                v6.subnet.contains(ip6)
            else {
                throw ModelError.invalidIP(address6, "the endpoint's IPv6 address must be in the network's IPv6 subnet")
            }
            created.ip6 = ip6
        }
        try store.save(dockerEndpoint: created)
        dockerEndpoints[endpoint] = created
        return given == nil ? created.mac : nil
    }

    func dockerDeleteEndpoint(endpoint: String) throws {
        try store.delete(dockerEndpoint: endpoint)
        dockerEndpoints[endpoint] = nil
    }

    /// Makes the veth pair and equips it; returns the container side's name for dockerd
    /// to move into the sandbox, and the gateway.
    func dockerJoin(
        network id: String, endpoint: String, sandbox: String
    ) throws -> (source: String, gateway: IPv4Address?, gateway6: IPv6Address?) {
        guard let pending = dockerEndpoints[endpoint], pending.networkID == id,
            let network = registry.networks.first(where: { $0.id == id })
        else {
            throw AgentError.attachmentNotFound("\(endpoint) of network \(id)")
        }
        let suffix = String(endpoint.prefix(7))
        var attachment = Attachment(
            containerID: endpoint, interface: "eth0", network: network.name, namespace: sandbox,
            hostInterface: "veth" + suffix, ip: pending.ip, mac: pending.mac, ports: [], networkID: id)
        attachment.runtime = .docker
        attachment.ip6 = pending.ip6
        let peer = "tmp" + suffix
        try datapath.addDockerVeth(
            hostSide: attachment.hostInterface, peer: peer, mac: pending.mac, network: network,
            alias: LinkAlias.prefix + attachment.id)
        var undo = Undo()
        defer { undo.run() }
        undo.add { self.datapath.unequip(attachment) }
        try store.save(attachment: attachment)
        undo.add { try? self.store.delete(attachment: attachment.id) }
        try datapath.equip(attachment, network: network)
        registry.attachments.append(attachment)
        undo.cancel()
        registerSandboxWhenMounted(attachment)
        return (peer, network.gateway, pending.ip6 == nil ? nil : network.ipv6?.gateway)
    }

    /// The sandbox's processes reach published ports through the host's addresses (hairpin)
    /// once the socket hooks know its namespace. dockerd mounts the namespace only when the
    /// container starts (runc's prestart hook), after Join: wait for it, for a minute at most.
    private func registerSandboxWhenMounted(_ attachment: Attachment) {
        Task {
            for _ in 0..<600 {
                guard let current = self.registry.attachments.first(where: { $0.id == attachment.id }) else { return }
                if (try? self.datapath.register(
                    containerNamespace: current.namespace, source: self.socketSource(current), dns: nil)) != nil
                {
                    return
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            self.logger.warning(
                "the sandbox never appeared: its connections to published ports at the host's addresses won't be translated",
                metadata: ["sandbox": "\(attachment.namespace)"])
        }
    }

    func dockerLeave(endpoint: String) throws {
        guard let attachment = registry.attachments.first(where: { $0.containerID == endpoint && $0.networkID != nil })
        else {
            throw AgentError.attachmentNotFound(endpoint)
        }
        try detachAttachment(attachment.containerID, attachment.interface)
    }

    /// Publishes Docker's port bindings (a host port of 0 or a range: the first free one).
    func dockerPublish(endpoint: String, bindings: [PortRequest]) throws {
        guard var attachment = registry.attachments.first(where: { $0.containerID == endpoint && $0.networkID != nil })
        else {
            throw AgentError.attachmentNotFound(endpoint)
        }
        let previous = attachment
        attachment.ports = try registry.allocatePorts(
            bindings, ipv6: attachment.ip6 != nil, portInUse: datapath.hostPortInUse, exceptAttachment: attachment.id)
        try store.save(attachment: attachment)
        var undo = Undo()
        defer { undo.run() }
        undo.add {
            try? self.store.save(attachment: previous)
            self.registry.attachments.removeAll { $0.id == previous.id }
            self.registry.attachments.append(previous)
            try? self.datapath.syncPorts(self.registry)
        }
        registry.attachments.removeAll { $0.id == attachment.id }
        registry.attachments.append(attachment)
        try datapath.syncPorts(registry)
        undo.cancel()
    }
}
