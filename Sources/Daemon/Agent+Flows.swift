import API
import BPF
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
        return flows.filter { selection?.matches($0.originalTuple, $0.replyTuple, $0.info) ?? true }
            .map { flow in Agent.view(flow, owner: owners[flow.info.ifindex], now: now) }
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
            try table.flush(matching: { tuple, other, flow in selection?.matches(tuple, other, flow) ?? true })
        }
        return FlushResult(flushed: flushed)
    }

    /// A container's flows: those of its interfaces, or naming one of its addresses.
    struct FlowSelection: Sendable {
        var ifindexes: Set<UInt32>
        var addresses: Set<IPv4Address>

        func matches(_ tuple: FlowTuple, _ other: FlowTuple, _ flow: FlowInfo) -> Bool {
            ifindexes.contains(flow.ifindex)
                || [tuple.source, tuple.destination, other.source, other.destination].contains(
                    where: addresses.contains)
        }
    }

    private func flowSelection(_ reference: String) throws -> FlowSelection {
        if let container = try? registry.container(reference) {
            let endpoints = registry.endpoints(ofContainer: container.id)
            return FlowSelection(
                ifindexes: Set(endpoints.compactMap(datapath.ifindex(of:))),
                addresses: Set(endpoints.compactMap(\.ip)))
        }
        // Another runtime's container (CNI), by its ID.
        let attachments = registry.attachments.filter { $0.containerID == reference }
        guard !attachments.isEmpty else { throw ModelError.containerNotFound(reference) }
        return FlowSelection(
            ifindexes: Set(attachments.compactMap { datapath.ifindex(ofLink: $0.hostInterface) }),
            addresses: Set(attachments.map(\.ip)))
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
        func tuple(_ tuple: FlowTuple) -> FlowView.Tuple {
            FlowView.Tuple(
                source: tuple.source, sourcePort: tuple.sourcePort, destination: tuple.destination,
                destinationPort: tuple.destinationPort)
        }
        return FlowView(
            proto: Exporter.protocolLabel(flow.proto), state: flow.stateLabel, kind: flow.info.kind?.label ?? "hairpin",
            original: tuple(flow.originalTuple), reply: tuple(flow.replyTuple), container: owner,
            expiresInSeconds: flow.expires >= now ? flow.expires - now : 0)
    }
}
