import Datapath
import FoundationEssentials
import Model

/// Other runtimes' container interfaces (Attachment): the CNI plugin hands them to the
/// agent, which owns the maps, after the runtime's own plugins made them.
extension Agent {
    /// Equips the interface and publishes its ports; asking again replaces what was asked before.
    public func attach(_ request: AttachmentRequest) throws -> Attachment {
        let attachment = try registry.planAttachment(request)
        let previous = registry.attachments.first { $0.id == attachment.id }
        try store.save(attachment: attachment)
        var undo = Undo()
        defer { undo.run() }
        undo.add {
            if let previous {
                try? self.store.save(attachment: previous)
            } else {
                try? self.store.delete(attachment: attachment.id)
            }
        }
        if let previous, previous.hostInterface != attachment.hostInterface {
            datapath.unequip(previous)
            undo.add { try? self.datapath.equip(previous, network: nil) }
        }
        undo.add {
            if let previous, previous.hostInterface == attachment.hostInterface {
                try? self.datapath.equip(previous, network: nil)
            } else {
                self.datapath.unequip(attachment)
            }
        }
        try datapath.equip(attachment, network: nil)
        registerForHairpin(attachment, undo: &undo)
        registry.attachments.removeAll { $0.id == attachment.id }
        registry.attachments.append(attachment)
        undo.add {
            self.registry.attachments.removeAll { $0.id == attachment.id }
            if let previous { self.registry.attachments.append(previous) }
            try? self.datapath.syncSubnets(self.registry)
            try? self.datapath.syncPorts(self.registry)
        }
        try datapath.syncSubnets(registry)
        try datapath.syncPorts(registry)
        undo.cancel()
        logger.info(
            "attachment equipped",
            metadata: [
                "container": "\(attachment.containerID)", "interface": "\(attachment.hostInterface)",
                "ports": "\(attachment.ports.count)",
            ])
        return attachment
    }

    public func attachment(_ containerID: String, _ interface: String) throws -> Attachment {
        guard let found = registry.attachments.first(where: { $0.id == containerID + "/" + interface }) else {
            throw AgentError.attachmentNotFound(containerID + "/" + interface)
        }
        return found
    }

    /// Forgets the interface: its ports and map entries. One that is not known is fine
    /// (a runtime repeats DEL).
    public func detachAttachment(_ containerID: String, _ interface: String) throws {
        guard let attachment = try? attachment(containerID, interface) else { return }
        // The maps first, as they can be put back; unequipping is the point of no return.
        var remaining = registry
        remaining.attachments.removeAll { $0.id == attachment.id }
        var undo = Undo()
        defer { undo.run() }
        undo.add {
            try? self.datapath.syncSubnets(self.registry)
            try? self.datapath.syncPorts(self.registry)
        }
        try datapath.syncSubnets(remaining)
        try datapath.syncPorts(remaining)
        try store.delete(attachment: attachment.id)
        undo.cancel()
        registry = remaining
        datapath.unequip(attachment)
        if !registry.attachments.contains(where: { $0.namespace == attachment.namespace }) {
            datapath.unregister(containerNamespace: attachment.namespace)
        }
        logger.info(
            "attachment removed", metadata: ["container": "\(containerID)", "interface": "\(attachment.hostInterface)"])
    }

    /// Lets the attachment's namespace reach published ports at the host's addresses. It is
    /// not worth failing the ADD for: the container works without it. Undone, the namespace
    /// goes back to the source it had (the attachment this one replaces, or another of the
    /// namespace's), or leaves the socket hooks when it had none.
    private func registerForHairpin(_ attachment: Attachment, undo: inout Undo) {
        let before =
            registry.attachments.first { $0.id == attachment.id }
            ?? registry.attachments.first { $0.namespace == attachment.namespace }
        try? datapath.register(containerNamespace: attachment.namespace, source: socketSource(attachment), dns: nil)
        undo.add {
            if let before {
                try? self.datapath.register(
                    containerNamespace: before.namespace, source: self.socketSource(before), dns: nil)
            } else {
                self.datapath.unregister(containerNamespace: attachment.namespace)
            }
        }
    }

    /// CNI's GC: releases the network's attachments the runtime no longer knows.
    public func collectAttachments(_ request: AttachmentCollection) throws -> [String] {
        let keep = Set(request.keep)
        let stale = registry.attachments.filter { $0.network == request.network && !keep.contains($0.id) }
        for attachment in stale { try detachAttachment(attachment.containerID, attachment.interface) }
        return stale.map(\.id)
    }

    /// At start: attachments whose veth is gone (removed while no agent ran) are forgotten,
    /// the others equipped again.
    func reconcileAttachments() throws -> [String] {
        var repairs: [String] = []
        for attachment in registry.attachments {
            if datapath.linkExists(attachment.hostInterface) {
                try datapath.equip(
                    attachment, network: attachment.networkID.flatMap { id in registry.networks.first { $0.id == id } })
            } else {
                try store.delete(attachment: attachment.id)
                registry.attachments.removeAll { $0.id == attachment.id }
                repairs.append("forgot attachment \(attachment.id): its interface \(attachment.hostInterface) is gone")
            }
        }
        return repairs
    }
}

extension Agent {
    /// The CNI plugin's main mode: the network (made at the first ADD), an address of its
    /// IPAM, a veth with the container side made in the runtime's namespace, the default
    /// route, the network's policy and the published ports. A repeated ADD answers what
    /// is there.
    public func attachMain(_ request: MainAttachmentRequest) throws -> MainAttachment {
        guard FileManager.default.fileExists(atPath: request.namespace) else {
            throw AgentError.namespaceNotFound(request.namespace)
        }
        var undo = Undo()
        defer { undo.run() }
        if registry.networks.first(where: { $0.name == request.network }) == nil {
            var wanted = NetworkRequest(name: request.network, subnet: request.subnet)
            (wanted.ipv6, wanted.subnet6) = (request.ipv6, request.subnet6)
            let planned = try registry.planNetwork(
                wanted, id: randomID(), now: Date(), hostPrefixes: try datapath.hostPrefixes(),
                hostPrefixes6: datapath.hostPrefixes6())
            try addNetwork(planned)
            // The network made for this ADD goes if the ADD fails.
            undo.add {
                if let made = self.registry.networks.first(where: { $0.id == planned.id }) { self.forgetNetwork(made) }
            }
        }
        let network = try registry.network(request.network)
        guard network.driver == .bridge, let subnet = network.subnet, let gateway = network.gateway,
            let bridge = network.bridgeName
        else {
            throw ModelError.invalidOption(
                "--driver \(network.driver)",
                "network \(network.name) is not a bridge network: the CNI plugin needs one")
        }
        let id = request.containerID + "/" + request.interface
        if let existing = registry.attachments.first(where: { $0.id == id }) {
            undo.cancel()
            return MainAttachment(
                attachment: existing, bridge: bridge, gateway: gateway, prefixLength: subnet.prefixLength,
                ipv6: network.ipv6)
        }
        let ip = try IPAM.allocate(in: network, used: registry.addressesInUse(network: network.id))
        let ip6 = try registry.planAddress6(nil, on: network)
        var attachment = try registry.planAttachment(
            AttachmentRequest(
                containerID: request.containerID, interface: request.interface, network: network.name,
                namespace: request.namespace,
                hostInterface: vethName(id), ip: ip.description, mac: MACAddress(derivedFrom: ip).description,
                ports: request.ports, ip6: ip6?.description))
        attachment.networkID = network.id
        var endpoint = Endpoint(
            containerID: request.containerID, networkID: network.id, ip: ip, mac: attachment.mac,
            hostInterface: attachment.hostInterface, containerInterface: request.interface, order: 0)
        endpoint.ip6 = ip6
        try store.save(attachment: attachment)
        undo.add { [attachment] in try? self.store.delete(attachment: attachment.id) }
        undo.add { self.datapath.detach(endpoint, namespace: request.namespace) }
        try datapath.attach(endpoint, network: network, namespace: request.namespace)
        registerForHairpin(attachment, undo: &undo)
        if !network.internal {
            try datapath.setDefaultRoute(namespace: request.namespace, via: gateway, device: request.interface)
            if ip6 != nil {
                try datapath.setDefaultRoute6(
                    namespace: request.namespace, via: network.ipv6?.gateway, device: request.interface)
            }
        }
        registry.attachments.append(attachment)
        undo.add { [attachment] in
            self.registry.attachments.removeAll { $0.id == attachment.id }
            try? self.datapath.syncPorts(self.registry)
        }
        try datapath.syncPorts(registry)
        undo.cancel()
        logger.info(
            "attachment made",
            metadata: ["container": "\(request.containerID)", "network": "\(network.name)", "address": "\(ip)"])
        return MainAttachment(
            attachment: attachment, bridge: bridge, gateway: gateway, prefixLength: subnet.prefixLength,
            ipv6: network.ipv6)
    }
}
