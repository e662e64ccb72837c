import API
import BPF
import Datapath
import FoundationEssentials
import Model

/// The flow table as a scrape shows it: the collector's last pass and the event counters.
public struct FlowStatistics {
    /// Flows the table can hold.
    public var capacity: Int
    /// What the collector's last pass counted (nil before the first).
    public var census: FlowCensus?
    /// bp_flow_counts, by index (FlowTable.counterIndex).
    public var counters: [UInt32: UInt64]
    public var lastPassSeconds: Double?

    public init(capacity: Int, census: FlowCensus?, counters: [UInt32: UInt64], lastPassSeconds: Double?) {
        self.capacity = capacity
        self.census = census
        self.counters = counters
        self.lastPassSeconds = lastPassSeconds
    }
}

/// How published ports show in the metrics (--metrics-port-series): a series per port
/// (protocol, host address and port, container and its port), one per container (its ports
/// summed: the cardinality of its containers, not of its ports), or none. Unset: per port
/// below `PortSeries.perPortLimit` published ports, per container from there on (so the
/// series change shape when the count crosses it; set it to keep one). A container's sum
/// drops when one of its ports goes, which Prometheus' rate() takes for a counter reset.
public enum PortSeries: String, Sendable, CaseIterable {
    case perPort = "per-port"
    case perContainer = "per-container"
    case off

    /// Published ports from which the default is per container.
    public static let perPortLimit = 1_000

    static func chosen(_ setting: PortSeries?, ports: Int) -> PortSeries {
        setting ?? (ports < perPortLimit ? .perPort : .perContainer)
    }
}

/// Everything a scrape shows, as plain values.
public struct ScrapeInput {
    public var registry: Registry
    public var counters: TrafficCounters
    /// IDs of the running containers.
    public var running: Set<String>
    public var flows: FlowStatistics?
    /// --metrics-port-series; nil: by the number of published ports.
    public var portSeries: PortSeries?

    public init(registry: Registry, counters: TrafficCounters, running: Set<String>) {
        self.registry = registry
        self.counters = counters
        self.running = running
    }
}

/// The exporter's pure part: from counters and the registry to metric families. Only
/// endpoints and ports that exist now have series.
public enum Exporter {
    public static func families(_ input: ScrapeInput) -> [MetricFamily] {
        let registry = input.registry
        let counters = input.counters
        var receiveBytes = MetricFamily(
            name: "bridgeport_container_network_receive_bytes",
            help: "Bytes received by the container on this interface.", kind: .counter)
        var receivePackets = MetricFamily(
            name: "bridgeport_container_network_receive_packets",
            help: "Packets received by the container on this interface.", kind: .counter)
        var transmitBytes = MetricFamily(
            name: "bridgeport_container_network_transmit_bytes", help: "Bytes sent by the container on this interface.",
            kind: .counter)
        var transmitPackets = MetricFamily(
            name: "bridgeport_container_network_transmit_packets",
            help: "Packets sent by the container on this interface.", kind: .counter)
        var drops = MetricFamily(
            name: "bridgeport_container_network_drops",
            help:
                "Packets of the container dropped by Bridgeport, by reason and direction (from the container's point of view).",
            kind: .counter)
        var hostDrops = MetricFamily(
            name: "bridgeport_host_network_drops", help: "Packets dropped on the host's uplinks, by reason.",
            kind: .counter)

        // Ports of Bridgeport's containers and of other runtimes' (CNI, Docker), whose
        // container label is the runtime's container ID, as on their traffic series.
        // Fields are read in place: a copy of each Container (a dozen references) cost more
        // than the rest of this loop.
        let containers = registry.containers
        var publishers: [(container: String, ports: [PortMapping])] = []
        var ids: [String] = []
        publishers.reserveCapacity(containers.count + registry.attachments.count)
        ids.reserveCapacity(containers.count)
        for index in containers.indices {
            ids.append(containers[index].id)
            publishers.append((containers[index].name, containers[index].publishedPorts))
        }
        publishers += registry.attachments.map { (container: $0.containerID, ports: $0.ports) }
        var containerNames = NamesByID(ids: ids, names: publishers.prefix(containers.count).map(\.container))
        var networkNames = NamesByID(ids: registry.networks.map(\.id), names: registry.networks.map(\.name))
        // Each series' labels are rendered once and shared by its families.
        func labels(container: String, network: String, interface: String) -> LabelSet {
            var labels = LabelSet(reserving: container.utf8.count + network.utf8.count + interface.utf8.count + 40)
            labels.append("container", container)
            labels.append("network", network)
            labels.append("interface", interface)
            return labels
        }
        // Bridgeport's containers, then other runtimes' (CNI: the runtime's container ID and network).
        var series: [(index: UInt32, labels: LabelSet)] = []
        series.reserveCapacity(registry.endpoints.count + registry.attachments.count)
        let endpoints = registry.endpoints
        for position in endpoints.indices {
            guard let interface = endpoints[position].interfaceLabel,
                let index = counters.index(of: endpoints[position]),
                let container = containerNames.name(of: endpoints[position].containerID),
                let network = networkNames.name(of: endpoints[position].networkID)
            else { continue }
            series.append((index, labels(container: container, network: network, interface: interface)))
        }
        for attachment in registry.attachments {
            guard let index = counters.interfaces[attachment.hostInterface] else { continue }
            series.append(
                (
                    index,
                    labels(
                        container: attachment.containerID, network: attachment.network,
                        interface: attachment.hostInterface)
                ))
        }
        receiveBytes.samples.reserveCapacity(series.count)
        receivePackets.samples.reserveCapacity(series.count)
        transmitBytes.samples.reserveCapacity(series.count)
        transmitPackets.samples.reserveCapacity(series.count)
        for (index, labels) in series {
            let stats = counters.endpoints[index] ?? .zero
            receiveBytes.add(labels, stats.rx.bytes)
            receivePackets.add(labels, stats.rx.packets)
            transmitBytes.add(labels, stats.tx.bytes)
            transmitPackets.add(labels, stats.tx.packets)
        }
        // Drops by endpoint (the last series of an ifindex), else by host interface.
        let dropCounts = counters.drops.sorted(by: {
            ($0.key.ifindex, $0.key.reason, $0.key.direction) < ($1.key.ifindex, $1.key.reason, $1.key.direction)
        })
        let dropIndexes = Set(dropCounts.map(\.key.ifindex))
        var endpointLabels: [UInt32: LabelSet] = [:]
        for (index, labels) in series where dropIndexes.contains(index) { endpointLabels[index] = labels }
        for (key, count) in dropCounts {
            let reason = [("reason", key.reasonLabel), ("direction", key.directionLabel)]
            if let labels = endpointLabels[key.ifindex] {
                drops.add(labels.appending(reason), count)
            } else if let name = counters.interfaceNames[key.ifindex] {
                hostDrops.add([("interface", name)] + reason, count)
            }
        }

        var portPackets = MetricFamily(
            name: "bridgeport_published_port_packets",
            help: "Packets from outside the host through the published port.", kind: .counter)
        var portBytes = MetricFamily(
            name: "bridgeport_published_port_bytes", help: "Bytes from outside the host through the published port.",
            kind: .counter)
        var portFlows = MetricFamily(
            name: "bridgeport_published_port_flows",
            help: "New flows through the published port (from outside, from the host and from containers).",
            kind: .counter)
        let portCount = publishers.reduce(0) { $0 + $1.1.count }
        let portSeries = PortSeries.chosen(input.portSeries, ports: portCount)
        // Per container: its ports summed, once per container label (several attachments of
        // one runtime container share it).
        var sums: [String: PortTraffic] = [:]
        for (container, mappings) in publishers where portSeries != .off && !mappings.isEmpty {
            guard portSeries == .perPort else {
                let sum = mappings.reduce(PortTraffic.zero) { $0 &+ (counters.ports[$1.hostSide] ?? .zero) }
                sums[container] = (sums[container] ?? .zero) &+ sum
                continue
            }
            for mapping in mappings {
                let stats = counters.ports[mapping.hostSide] ?? .zero
                // The names, quotes and the longest values of the other labels: about 110 bytes.
                var labels = LabelSet(reserving: container.utf8.count + 110)
                labels.append("protocol", mapping.proto.rawValue)
                labels.append("host_ip", mapping.hostIP.description)
                labels.append("host_port", mapping.hostPort)
                labels.append("container", container)
                labels.append("container_port", mapping.containerPort)
                portPackets.add(labels, stats.packets)
                portBytes.add(labels, stats.bytes)
                portFlows.add(labels, stats.flows)
            }
        }
        for (container, sum) in sums.sorted(by: { $0.key < $1.key }) {
            let labels = LabelSet([("container", container)])
            portPackets.add(labels, sum.packets)
            portBytes.add(labels, sum.bytes)
            portFlows.add(labels, sum.flows)
        }

        var runs = MetricFamily(
            name: "bridgeport_bpf_program_runs",
            help: "Times the kernel ran the BPF program (counted with --bpf-stats).", kind: .counter)
        var runTime = MetricFamily(
            name: "bridgeport_bpf_program_run_seconds",
            help: "Time the kernel spent in the BPF program (counted with --bpf-stats).", kind: .counter)
        for program in counters.programs {
            let labels = [("program", program.name), ("attach_mode", program.hook)]
            runs.add(labels, program.runs)
            runTime.add(labels, seconds: Double(program.nanoseconds) / 1e9)
        }

        var build = MetricFamily(name: "bridgeport_build_info", help: "Bridgeport's version; always 1.", kind: .gauge)
        build.add([("version", bridgeportVersion)], 1)
        var networkCount = MetricFamily(name: "bridgeport_networks", help: "Networks the agent manages.", kind: .gauge)
        networkCount.add([], registry.networks.count)
        var containerCount = MetricFamily(
            name: "bridgeport_containers", help: "Containers the agent manages, by state.", kind: .gauge)
        containerCount.add([("state", "running")], input.running.count)
        containerCount.add([("state", "stopped")], registry.containers.count - input.running.count)
        var published = MetricFamily(
            name: "bridgeport_published_ports", help: "Host ports published to containers.", kind: .gauge)
        published.add([], portCount)

        return [receiveBytes, receivePackets, transmitBytes, transmitPackets, drops, hostDrops]
            + (portSeries == .off ? [] : [portPackets, portBytes, portFlows])
            + (counters.programs.isEmpty ? [] : [runs, runTime])  // none without --bpf-stats
            + [build, networkCount, containerCount, published]
            + (input.flows.map(flowFamilies) ?? [])
    }

    /// The states a protocol's flows can be in, for series that exist before their first flow.
    static let protocolStates: [(proto: UInt8, label: String, states: [FlowState])] = [
        (FlowProtocol.tcp, "tcp", [.synSent, .synRecv, .established, .closing, .close]),
        (FlowProtocol.udp, "udp", [.unreplied, .replied, .stream]),
        (FlowProtocol.icmp, "icmp", [.unreplied, .replied]),
    ]

    static func protocolLabel(_ proto: UInt8) -> String {
        proto == FlowProtocol.icmpv6 ? "icmpv6" : protocolStates.first { $0.proto == proto }?.label ?? "other"
    }

    /// The flow table: flows by state (from the collector's last pass), what happened to
    /// flows (counters kept in a pinned map, so they survive restarts), masquerade's ports.
    static func flowFamilies(_ flows: FlowStatistics) -> [MetricFamily] {
        var table = MetricFamily(
            name: "bridgeport_flows",
            help: "Flows in the flow table by protocol and state, as the collector's last pass counted them.",
            kind: .gauge)
        var capacity = MetricFamily(
            name: "bridgeport_flows_max",
            help: "Flows the flow table can hold (--max-flows); new flows beyond are dropped (reason ct_full).",
            kind: .gauge)
        var created = MetricFamily(
            name: "bridgeport_flows_created", help: "Flows the dataplane started tracking.", kind: .counter)
        var expired = MetricFamily(
            name: "bridgeport_flows_expired", help: "Flows removed after their timeout.", kind: .counter)
        var evicted = MetricFamily(
            name: "bridgeport_flows_evicted",
            help: "Unanswered flows from outside removed early because the flow table was nearly full.", kind: .counter)
        var flushed = MetricFamily(
            name: "bridgeport_flows_flushed",
            help: "Flows removed with their container, published port or host address, or by bridgeport flows --flush.",
            kind: .counter)
        capacity.add([], flows.capacity)
        func total(_ event: FlowEvent, _ proto: UInt8) -> UInt64 {
            flows.counters[FlowTable.counterIndex(event, proto: proto)] ?? 0
        }
        for (proto, label, states) in protocolStates {
            for state in states {
                table.add(
                    [("protocol", label), ("state", state.label)],
                    flows.census?.flows[FlowCensus.StateKey(proto: proto, state: state.number)] ?? 0)
            }
            let labels = [("protocol", label)]
            created.add(labels, total(.created, proto))
            expired.add(labels, total(.expired, proto) &+ total(.reaped, proto))
            evicted.add(labels, total(.evicted, proto))
            flushed.add(labels, total(.flushed, proto))
        }
        var runs = MetricFamily(
            name: "bridgeport_flow_gc_runs", help: "Passes of the flow table's garbage collector.", kind: .counter)
        runs.add([], flows.counters[FlowTable.gcRunsIndex] ?? 0)
        var families = [table, capacity, created, expired, evicted, flushed, runs]
        if let seconds = flows.lastPassSeconds {
            var duration = MetricFamily(
                name: "bridgeport_flow_gc_duration_seconds", help: "How long the collector's last pass took.",
                kind: .gauge)
            duration.add([], seconds: seconds)
            families.append(duration)
        }
        var masqueradeFlows = MetricFamily(
            name: "bridgeport_masquerade_flows", help: "Masqueraded flows by the host address they leave with.",
            kind: .gauge)
        var masqueradePorts = MetricFamily(
            name: "bridgeport_masquerade_ports_in_use",
            help: "Distinct source ports masqueraded flows use, by host address.", kind: .gauge)
        let uses = (flows.census?.masquerade ?? [:]).sorted {
            ($0.key.hostIP.bigEndian, $0.key.proto) < ($1.key.hostIP.bigEndian, $1.key.proto)
        }
        for (host, use) in uses {
            let labels = [
                ("host_ip", IPv4Address(UInt32(bigEndian: host.hostIP)).description),
                ("protocol", protocolLabel(host.proto)),
            ]
            masqueradeFlows.add(labels, use.flows)
            masqueradePorts.add(labels, use.ports)
        }
        return families + [masqueradeFlows, masqueradePorts]
    }
}

/// Names by ID (of containers, of networks) for a walk over the endpoints, which mostly
/// come in their containers' order (a container and its endpoints are added together):
/// the entry after the last one found, and that one again, are tried before a lookup by
/// ID, so that most endpoints cost a string comparison rather than hashing a 64-character ID.
struct NamesByID {
    let ids: [String]
    let names: [String]
    private var last = -1
    /// Positions by ID, made on the first miss.
    private var positions: [String: Int]?

    init(ids: [String], names: [String]) {
        (self.ids, self.names) = (ids, names)
    }

    mutating func name(of id: String) -> String? {
        if last + 1 < ids.count, ids[last + 1] == id {
            last += 1
        } else if last < 0 || ids[last] != id {
            if positions == nil {
                positions = Dictionary(zip(ids, ids.indices), uniquingKeysWith: { first, _ in first })
            }
            guard let position = positions![id] else { return nil }
            last = position
        }
        return names[last]
    }
}
