import API
import BPF
import CBPF
import Datapath
import Model
import NIOPosix

/// `bridgeport flows`: the flow table read and flushed off the actor (on NIO's thread
/// pool), with the containers it names resolved on it.
extension Agent {
    /// Every live flow, or a container's: of its interfaces or naming its addresses.
    public func flows(container reference: String?) async throws -> [FlowView] {
        let owners = flowOwners()
        let selection = try reference.map(flowSelection)
        guard let table = datapath.flows else { throw DatapathError.noFlowTable }
        let now = FlowTable.now()
        let flows = try await NIOThreadPool.singleton.runIfActive { try table.flows(now: now) }
        return flows.filter { selection?.matches($0.original, $0.reply, $0.entry) ?? true }
            .map { flow in Agent.view(flow, owner: owners[flow.entry.ifindex], now: now) }
            .sorted {
                ($0.container ?? "", $0.proto, $0.original.source.value, $0.original.sourcePort)
                    < ($1.container ?? "", $1.proto, $1.original.source.value, $1.original.sourcePort)
            }
    }

    /// Removes every flow, or a container's.
    public func flushFlows(container reference: String?) async throws -> FlushResult {
        let selection = try reference.map(flowSelection)
        guard let table = datapath.flows else { throw DatapathError.noFlowTable }
        let flushed = try await NIOThreadPool.singleton.runIfActive {
            try table.flush { key, entry in selection?.matches(key, FlowTable.otherKey(key, entry), entry) ?? true }
        }
        return FlushResult(flushed: flushed)
    }

    /// A container's flows: those of its interfaces, or naming one of its addresses.
    struct FlowSelection: Sendable {
        var ifindexes: Set<UInt32>
        var addresses: Set<UInt32>  // network byte order

        func matches(_ key: bp_flow_key, _ other: bp_flow_key, _ entry: bp_flow) -> Bool {
            ifindexes.contains(entry.ifindex)
                || [key.src_ip, key.dst_ip, other.src_ip, other.dst_ip].contains(where: addresses.contains)
        }
    }

    private func flowSelection(_ reference: String) throws -> FlowSelection {
        if let container = try? registry.container(reference) {
            let endpoints = registry.endpoints(ofContainer: container.id)
            return FlowSelection(
                ifindexes: Set(endpoints.compactMap(datapath.ifindex(of:))),
                addresses: Set(endpoints.compactMap { $0.ip?.value.bigEndian }))
        }
        // Another runtime's container (CNI), by its ID.
        let attachments = registry.attachments.filter { $0.containerID == reference }
        guard !attachments.isEmpty else { throw ModelError.containerNotFound(reference) }
        return FlowSelection(
            ifindexes: Set(attachments.compactMap { datapath.ifindex(ofLink: $0.hostInterface) }),
            addresses: Set(attachments.map { $0.ip.value.bigEndian }))
    }

    /// The container each interface belongs to, by ifindex.
    private func flowOwners() -> [UInt32: String] {
        var owners: [UInt32: String] = [:]
        for endpoint in registry.endpoints {
            if let index = datapath.ifindex(of: endpoint), let container = try? registry.container(endpoint.containerID)
            {
                owners[index] = container.name
            }
        }
        for attachment in registry.attachments {
            if let index = datapath.ifindex(ofLink: attachment.hostInterface) { owners[index] = attachment.containerID }
        }
        return owners
    }

    static func view(_ flow: Flow, owner: String?, now: UInt32) -> FlowView {
        func tuple(_ key: bp_flow_key) -> FlowView.Tuple {
            FlowView.Tuple(
                source: IPv4Address(UInt32(bigEndian: key.src_ip)), sourcePort: UInt16(bigEndian: key.src_port),
                destination: IPv4Address(UInt32(bigEndian: key.dst_ip)),
                destinationPort: UInt16(bigEndian: key.dst_port))
        }
        let kind =
            switch flow.kind {
            case BP_FLOW_PUBLISHED: "published"
            case BP_FLOW_MASQUERADE: "masquerade"
            case BP_FLOW_ROUTED: "routed"
            default: "hairpin"
            }
        return FlowView(
            proto: Exporter.protocolLabel(flow.proto), state: flow.stateLabel, kind: kind,
            original: tuple(flow.original), reply: tuple(flow.reply), container: owner,
            expiresInSeconds: flow.expires >= now ? flow.expires - now : 0)
    }
}
