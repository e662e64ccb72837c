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
        let owners = eventDirectory().endpoints.mapValues(\.container)
        let selection = try reference.map(flowSelection)
        guard let table = datapath.flows else { throw DatapathError.noFlowTable }
        let table6 = datapath.flows6
        let now = FlowTable.now()
        let (flows, flows6) = try await NIOThreadPool.singleton.runIfActive {
            (try table.flows(now: now), try table6?.flows(now: now) ?? [])
        }
        let views =
            flows.filter { selection?.matches($0.originalTuple, $0.replyTuple, $0.info) ?? true }
            .map { flow in Agent.view(flow, owner: owners[flow.info.ifindex], now: now) }
            + flows6.filter { selection?.matches6($0) ?? true }
            .map { flow in Agent.view(flow, owner: owners[flow.entry.ifindex], now: now) }
        return views.sorted {
            ($0.container ?? "", $0.proto, $0.original.source, $0.original.sourcePort)
                < ($1.container ?? "", $1.proto, $1.original.source, $1.original.sourcePort)
        }
    }

    /// Removes every flow, or a container's.
    public func flushFlows(container reference: String?) async throws -> FlushResult {
        let selection = try reference.map(flowSelection)
        guard let table = datapath.flows else { throw DatapathError.noFlowTable }
        let table6 = datapath.flows6
        let flushed = try await NIOThreadPool.singleton.runIfActive {
            try table.flush(matching: { tuple, other, flow in selection?.matches(tuple, other, flow) ?? true })
                + (table6?.flush(where: { key, entry in selection?.matches6(key, entry) ?? true }) ?? 0)
        }
        return FlushResult(flushed: flushed)
    }

    /// A container's flows: those of its interfaces, or naming one of its addresses.
    struct FlowSelection: Sendable {
        var ifindexes: Set<UInt32>
        var addresses: Set<IPv4Address>
        var addresses6: Set<IPv6Address> = []

        func matches(_ tuple: FlowTuple, _ other: FlowTuple, _ flow: FlowInfo) -> Bool {
            ifindexes.contains(flow.ifindex)
                || [tuple.source, tuple.destination, other.source, other.destination].contains(
                    where: addresses.contains)
        }

        /// An IPv6 flow (an entry of either direction) of the container.
        func matches6(_ key: FlowTable6.Tuple, _ entry: FlowTable6.Entry) -> Bool {
            ifindexes.contains(entry.ifindex)
                || [key.sourceAddress, key.destinationAddress, IPv6Address(raw: entry.natAddress)].contains(
                    where: addresses6.contains)
        }

        func matches6(_ flow: Flow6) -> Bool { matches6(flow.original, flow.entry) }
    }

    private func flowSelection(_ reference: String) throws -> FlowSelection {
        if let container = try? registry.container(reference) {
            let endpoints = registry.endpoints(ofContainer: container.id)
            return FlowSelection(
                ifindexes: Set(endpoints.compactMap(datapath.ifindex(of:))),
                addresses: Set(endpoints.compactMap(\.ip)), addresses6: Set(endpoints.compactMap(\.ip6)))
        }
        // Another runtime's container (CNI), by its ID.
        let attachments = registry.attachments.filter { $0.containerID == reference }
        guard !attachments.isEmpty else { throw ModelError.containerNotFound(reference) }
        return FlowSelection(
            ifindexes: Set(attachments.compactMap { datapath.ifindex(ofLink: $0.hostInterface) }),
            addresses: Set(attachments.map(\.ip)))
    }

    static func view(_ flow: Flow, owner: String?, now: UInt32) -> FlowView {
        func tuple(_ tuple: FlowTuple) -> FlowView.Tuple {
            FlowView.Tuple(
                source: .v4(tuple.source), sourcePort: tuple.sourcePort, destination: .v4(tuple.destination),
                destinationPort: tuple.destinationPort)
        }
        return view(flow, original: tuple(flow.originalTuple), reply: tuple(flow.replyTuple), owner: owner, now: now)
    }

    static func view(_ flow: Flow6, owner: String?, now: UInt32) -> FlowView {
        func tuple(_ key: FlowTable6.Tuple) -> FlowView.Tuple {
            FlowView.Tuple(
                source: .v6(key.sourceAddress), sourcePort: UInt16(bigEndian: key.src_port),
                destination: .v6(key.destinationAddress), destinationPort: UInt16(bigEndian: key.dst_port))
        }
        return view(flow, original: tuple(flow.original), reply: tuple(flow.reply), owner: owner, now: now)
    }

    private static func view<Key>(
        _ flow: FlowOf<Key>, original: FlowView.Tuple, reply: FlowView.Tuple, owner: String?, now: UInt32
    ) -> FlowView {
        FlowView(
            proto: Exporter.protocolLabel(flow.proto), state: flow.stateLabel,
            kind: FlowKind(raw: flow.entry.kind)?.label ?? "hairpin", original: original, reply: reply,
            container: owner, expiresInSeconds: flow.expires >= now ? flow.expires - now : 0)
    }
}
