import Foundation
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
            if let previous { try? self.store.save(attachment: previous) } else { try? self.store.delete(attachment: attachment.id) }
        }
        if let previous, previous.hostInterface != attachment.hostInterface { dataplane.unequip(previous) }
        try dataplane.equip(attachment, network: nil)
        try? dataplane.register(containerNamespace: attachment.namespace, source: socketSource(attachment))  // hairpin to published ports
        registry.attachments.removeAll { $0.id == attachment.id }
        registry.attachments.append(attachment)
        undo.add {
            self.registry.attachments.removeAll { $0.id == attachment.id }
            if let previous { self.registry.attachments.append(previous) }
            try? self.dataplane.syncSubnets(self.registry)
            try? self.dataplane.syncPorts(self.registry)
        }
        try dataplane.syncSubnets(registry)
        try dataplane.syncPorts(registry)
        undo.cancel()
        logger.info("attachment equipped", metadata: ["container": "\(attachment.containerID)", "interface": "\(attachment.hostInterface)",
                                                     "ports": "\(attachment.ports.count)"])
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
        try store.delete(attachment: attachment.id)
        registry.attachments.removeAll { $0.id == attachment.id }
        dataplane.unequip(attachment)
        if !registry.attachments.contains(where: { $0.namespace == attachment.namespace }) {
            dataplane.unregister(containerNamespace: attachment.namespace)
        }
        try dataplane.syncSubnets(registry)
        try dataplane.syncPorts(registry)
        logger.info("attachment removed", metadata: ["container": "\(containerID)", "interface": "\(attachment.hostInterface)"])
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
            if dataplane.linkExists(attachment.hostInterface) {
                try dataplane.equip(attachment, network: attachment.networkID.flatMap { id in registry.networks.first { $0.id == id } })
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
            throw AgentError.dataplane("the network namespace \(request.namespace) does not exist")
        }
        if registry.networks.first(where: { $0.name == request.network }) == nil {
            let planned = try registry.planNetwork(NetworkRequest(name: request.network, subnet: request.subnet), id: randomID(), now: Date(),
                                                   hostPrefixes: try dataplane.hostPrefixes())
            try addNetwork(planned)
        }
        let network = try registry.network(request.network)
        guard network.driver == .bridge, let subnet = network.subnet, let gateway = network.gateway, let bridge = network.bridgeName else {
            throw ModelError.invalidOption("--driver \(network.driver)", "network \(network.name) is not a bridge network: the CNI plugin needs one")
        }
        let id = request.containerID + "/" + request.interface
        if let existing = registry.attachments.first(where: { $0.id == id }) {
            return MainAttachment(attachment: existing, bridge: bridge, gateway: gateway, prefixLength: subnet.prefixLength)
        }
        let ip = try IPAM.allocate(in: network, used: registry.addressesInUse(network: network.id))
        var attachment = try registry.planAttachment(AttachmentRequest(
            containerID: request.containerID, interface: request.interface, network: network.name, namespace: request.namespace,
            hostInterface: vethName(id), ip: ip.description, mac: MACAddress(derivedFrom: ip).description, ports: request.ports))
        attachment.networkID = network.id
        let endpoint = Endpoint(containerID: request.containerID, networkID: network.id, ip: ip, mac: attachment.mac,
                                hostInterface: attachment.hostInterface, containerInterface: request.interface, order: 0)
        try store.save(attachment: attachment)
        var undo = Undo()
        defer { undo.run() }
        undo.add { try? self.store.delete(attachment: attachment.id) }
        undo.add { self.dataplane.detach(endpoint, namespace: request.namespace) }
        try dataplane.attach(endpoint, network: network, namespace: request.namespace)
        try? dataplane.register(containerNamespace: request.namespace, source: socketSource(attachment))  // hairpin to published ports
        if !network.internal { try dataplane.setDefaultRoute(namespace: request.namespace, via: gateway, device: request.interface) }
        registry.attachments.append(attachment)
        undo.add {
            self.registry.attachments.removeAll { $0.id == attachment.id }
            try? self.dataplane.syncPorts(self.registry)
        }
        try dataplane.syncPorts(registry)
        undo.cancel()
        logger.info("attachment made", metadata: ["container": "\(request.containerID)", "network": "\(network.name)", "address": "\(ip)"])
        return MainAttachment(attachment: attachment, bridge: bridge, gateway: gateway, prefixLength: subnet.prefixLength)
    }
}
