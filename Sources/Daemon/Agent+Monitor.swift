import API
import BPF
import Model

/// `bridgeport monitor`: the filters resolved, and the endpoints events are labeled with.
extension Agent {
    /// Every endpoint by its veth's ifindex (Bridgeport's containers, then other runtimes').
    func eventDirectory() -> EventDirectory {
        var directory = EventDirectory()
        let networks = Dictionary(registry.networks.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let names = Dictionary(registry.containers.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        for endpoint in registry.endpoints {
            guard let index = datapath.ifindex(of: endpoint), let name = names[endpoint.containerID] else { continue }
            directory.endpoints[index] = EventEndpoint(
                containerID: endpoint.containerID, container: name, networkID: endpoint.networkID,
                network: networks[endpoint.networkID] ?? endpoint.networkID,
                interface: endpoint.interfaceLabel ?? "")
        }
        for attachment in registry.attachments {
            guard let index = datapath.ifindex(ofLink: attachment.hostInterface) else { continue }
            directory.endpoints[index] = EventEndpoint(
                containerID: attachment.containerID, container: attachment.containerID,
                networkID: registry.networks.first { $0.name == attachment.network }?.id ?? attachment.network,
                network: attachment.network, interface: attachment.hostInterface)
        }
        return directory
    }

    /// A monitor's query as a filter: the type and reason checked, the container and network
    /// found (by name or ID; another runtime's container by its ID).
    func monitorFilter(_ query: APIQuery) throws -> MonitorFilter {
        let type = try query.type.map { text in
            guard let type = MonitorType(rawValue: text) else {
                throw ModelError.invalidFlag(
                    "--type", text, "valid types are " + MonitorType.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return type
        }
        let reason = try query.reason.map { text in
            guard let reason = DropReason(label: text) else {
                throw ModelError.invalidFlag(
                    "--reason", text, "valid reasons are " + DropReason.all.map(\.label).joined(separator: ", "))
            }
            return reason
        }
        var kinds: Set<MonitorEventKind> =
            switch type ?? .drop {
            case .drop: [.drop]
            case .flow: [.flow]
            case .all: [.drop, .flow]
            }
        if reason != nil {
            // A reason is a drop's: `--type all --reason R` shows those drops alone.
            guard kinds.contains(.drop) else {
                throw ModelError.invalidFlag(
                    "--reason", query.reason ?? "", "only drops have a reason (use --type drop)")
            }
            kinds = [.drop]
        }
        var filter = MonitorFilter(kinds: kinds, reason: reason)
        if let reference = query.container?.rawValue {
            if let container = try? registry.container(reference) {
                filter.containerID = container.id
            } else if registry.attachments.contains(where: { $0.containerID == reference }) {
                filter.containerID = reference
            } else {
                throw ModelError.containerNotFound(reference)
            }
        }
        if let reference = query.network?.rawValue { filter.networkID = try registry.network(reference).id }
        return filter
    }
}
