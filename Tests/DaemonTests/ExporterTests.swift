import API
import BPF
import CBPF
import CDeflate
import Datapath
import Foundation
import Model
import Testing

@testable import Daemon

@Suite struct ExpositionTests {
    func family() -> MetricFamily {
        var family = MetricFamily(name: "x_bytes", help: "Help with \\ and\nnewline.", kind: .counter)
        family.add([("container", "a\"b\\c\nd")], UInt64.max)
        return family
    }

    @Test func prometheusText() {
        let text = ExpositionFormat.prometheus.render([family()])
        #expect(
            text == """
                # HELP x_bytes_total Help with \\\\ and\\nnewline.
                # TYPE x_bytes_total counter
                x_bytes_total{container="a\\"b\\\\c\\nd"} 18446744073709551615

                """)
    }

    @Test func openMetrics() {
        let text = ExpositionFormat.openMetrics.render([family()])
        #expect(text.hasPrefix("# HELP x_bytes Help"))
        #expect(text.contains("# TYPE x_bytes counter\nx_bytes_total{"))
        #expect(text.hasSuffix("# EOF\n"))
    }

    @Test func negotiation() {
        #expect(
            ExpositionFormat(accept: "application/openmetrics-text; version=1.0.0,text/plain;q=0.5") == .openMetrics)
        #expect(ExpositionFormat(accept: "text/plain") == .prometheus)
        #expect(ExpositionFormat(accept: nil) == .prometheus)
        #expect(Gzip.accepted(by: "gzip, deflate"))
        #expect(!Gzip.accepted(by: "gzip;q=0"))
        #expect(!Gzip.accepted(by: nil))
    }

    @Test func gzipRoundTrip() throws {
        let input = Array((1...1_000).map { "bridgeport_metric{n=\"\($0)\"} \($0 * 7)\n" }.joined().utf8)
        let compressed = try #require(Gzip.compress(input))
        #expect(compressed.prefix(3) == [0x1f, 0x8b, 8])  // gzip's magic, deflate
        #expect(compressed.count < input.count / 4)
        // Whole again, byte for byte (metrics.sh decompresses a scrape with gunzip).
        let decompressor = try #require(libdeflate_alloc_decompressor())
        defer { libdeflate_free_decompressor(decompressor) }
        /// The member's bytes, decompressed; nil unless it is one whole member and nothing after it.
        func decompress(_ member: [UInt8], size expected: Int) -> [UInt8]? {
            var output = [UInt8](repeating: 0, count: expected + 1)
            var (read, written) = (0, 0)
            let result = member.withUnsafeBytes { source in
                output.withUnsafeMutableBytes { target in
                    libdeflate_gzip_decompress_ex(
                        decompressor, source.baseAddress, source.count, target.baseAddress, target.count, &read,
                        &written)
                }
            }
            return result == LIBDEFLATE_SUCCESS && read == member.count ? Array(output.prefix(written)) : nil
        }
        #expect(decompress(compressed, size: input.count) == input)
        #expect(decompress(compressed + [0], size: input.count) == nil)  // trailing bytes are seen
        let empty = try #require(Gzip.compress([]))  // an empty body is a gzip member too
        #expect(decompress(empty, size: 0) == [])
    }
}

@Suite struct ExporterTests {
    @Test func seriesFollowTheRegistry() throws {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: Date(), hostPrefixes: []))
        let (container, endpoints) = try registry.planContainer(
            ContainerRequest(name: "web", ports: ["5000:80"]), id: randomID(), now: Date())
        let endpoint = endpoints.first
        registry.containers = [container]
        registry.endpoints = [endpoint!]
        var counters = TrafficCounters()
        counters.interfaces = [endpoint!.hostInterface!: 7]
        counters.interfaceNames = [7: endpoint!.hostInterface!, 2: "uplink0"]
        counters.endpoints[7] = bp_endpoint_stats(
            rx: bp_traffic(packets: 3, bytes: 300), tx: bp_traffic(packets: 2, bytes: 120))
        counters.endpoints[9] = bp_endpoint_stats(rx: bp_traffic(packets: 1, bytes: 1), tx: bp_traffic())  // a removed endpoint
        counters.drops[bp_drop_key(ifindex: 7, reason: BP_DROP_ICC, direction: BP_DIR_EGRESS)] = 4
        counters.drops[bp_drop_key(ifindex: 2, reason: BP_DROP_DIRECT_ACCESS, direction: BP_DIR_INGRESS)] = 5
        counters.ports[HostPort(.tcp, IPv4Address.any, 5000)] = bp_port_stats(packets: 10, bytes: 600, flows: 2)

        let text = ExpositionFormat.prometheus.render(
            Exporter.families(ScrapeInput(registry: registry, counters: counters, running: [container.id])))
        let labels = "container=\"web\",network=\"bridge\",interface=\"\(endpoint!.hostInterface!)\""
        #expect(text.contains("bridgeport_container_network_receive_bytes_total{\(labels)} 300\n"))
        #expect(text.contains("bridgeport_container_network_transmit_packets_total{\(labels)} 2\n"))
        #expect(
            text.contains("bridgeport_container_network_drops_total{\(labels),reason=\"icc\",direction=\"egress\"} 4\n")
        )
        #expect(
            text.contains(
                "bridgeport_host_network_drops_total{interface=\"uplink0\",reason=\"direct_access\",direction=\"ingress\"} 5\n"
            ))
        #expect(
            text.contains(
                "bridgeport_published_port_flows_total{protocol=\"tcp\",host_ip=\"0.0.0.0\",host_port=\"5000\",container=\"web\",container_port=\"80\"} 2\n"
            ))
        #expect(text.contains("bridgeport_containers{state=\"running\"} 1\n"))
        #expect(!text.contains("} 1\nbridgeport_container_network_receive_bytes_total{container=\"\""))
        #expect(text.contains("bridgeport_published_ports 1\n"))
        #expect(text.components(separatedBy: "bridgeport_container_network_receive_bytes_total{").count == 2)  // only the live endpoint
    }
}

extension ExporterTests {
    /// A dual-stack container's port has a series per family: its IPv6 binding's counters
    /// (bp_port_stats6) under host_ip "::".
    @Test func ipv6PortsHaveSeriesOfTheirOwn() throws {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: Date(), hostPrefixes: []))
        var six = NetworkRequest(name: "six", subnet: "10.66.0.0/24")
        six.ipv6 = true
        registry.networks.append(try registry.planNetwork(six, id: randomID(), now: Date(), hostPrefixes: []))
        let (container, endpoints) = try registry.planContainer(
            ContainerRequest(name: "web", network: "six", ports: ["5000:80"]), id: randomID(), now: Date())
        registry.containers = [container]
        registry.endpoints = endpoints
        var counters = TrafficCounters()
        counters.ports[HostPort(.tcp, .v4(.any), 5000)] = bp_port_stats(packets: 10, bytes: 600, flows: 2)
        counters.ports[HostPort(.tcp, .v6(.any), 5000)] = bp_port_stats(packets: 7, bytes: 900, flows: 1)
        let text = ExpositionFormat.prometheus.render(
            Exporter.families(ScrapeInput(registry: registry, counters: counters, running: [container.id])))
        let labels = "host_port=\"5000\",container=\"web\",container_port=\"80\""
        #expect(
            text.contains(
                "bridgeport_published_port_packets_total{protocol=\"tcp\",host_ip=\"0.0.0.0\",\(labels)} 10\n"))
        #expect(text.contains("bridgeport_published_port_packets_total{protocol=\"tcp\",host_ip=\"::\",\(labels)} 7\n"))
        #expect(text.contains("bridgeport_published_ports 2\n"))
    }
}

extension ExporterTests {
    /// --metrics-port-series: a series per port, their sum per container, or none; unset, per
    /// port below PortSeries.perPortLimit published ports and per container from there.
    @Test func portSeriesFollowTheSwitch() throws {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: Date(), hostPrefixes: []))
        let (container, endpoints) = try registry.planContainer(
            ContainerRequest(name: "web", ports: ["5000:80", "5001:81/udp"]), id: randomID(), now: Date())
        registry.containers = [container]
        registry.endpoints = endpoints
        var counters = TrafficCounters()
        counters.ports[HostPort(.tcp, IPv4Address.any, 5000)] = bp_port_stats(packets: 10, bytes: 600, flows: 2)
        counters.ports[HostPort(.udp, IPv4Address.any, 5001)] = bp_port_stats(packets: 5, bytes: 50, flows: 1)
        func scrape(_ series: PortSeries?) -> String {
            var input = ScrapeInput(registry: registry, counters: counters, running: [container.id])
            input.portSeries = series
            return ExpositionFormat.prometheus.render(Exporter.families(input))
        }
        for text in [scrape(nil), scrape(.perPort)] {
            #expect(
                text.contains(
                    "bridgeport_published_port_packets_total{protocol=\"udp\",host_ip=\"0.0.0.0\",host_port=\"5001\",container=\"web\",container_port=\"81\"} 5\n"
                ))
            #expect(text.components(separatedBy: "bridgeport_published_port_bytes_total{").count == 3)
        }
        let perContainer = scrape(.perContainer)
        #expect(perContainer.contains("bridgeport_published_port_packets_total{container=\"web\"} 15\n"))
        #expect(perContainer.contains("bridgeport_published_port_bytes_total{container=\"web\"} 650\n"))
        #expect(perContainer.contains("bridgeport_published_port_flows_total{container=\"web\"} 3\n"))
        #expect(!perContainer.contains("host_port="))
        let off = scrape(.off)
        #expect(!off.contains("bridgeport_published_port_packets") && off.contains("bridgeport_published_ports 2\n"))
        #expect(PortSeries.chosen(nil, ports: PortSeries.perPortLimit - 1) == .perPort)
        #expect(PortSeries.chosen(nil, ports: PortSeries.perPortLimit) == .perContainer)
        #expect(PortSeries.chosen(.off, ports: 1) == .off)
    }
}

@Suite struct FlowMetricsTests {
    @Test func flowFamiliesHaveEveryStateAndTheCounters() throws {
        let tcp = UInt8(BP_PROTO_TCP.rawValue)
        let udp = UInt8(BP_PROTO_UDP.rawValue)
        var census = FlowCensus()
        census.flows[FlowCensus.StateKey(proto: tcp, state: UInt8(BP_FLOW_ESTABLISHED.rawValue))] = 7
        census.masquerade[FlowCensus.HostKey(hostIP: IPv4Address("198.51.100.1")!.value.bigEndian, proto: udp)] =
            FlowCensus.PortUse(flows: 5, ports: 3)
        let counters: [UInt32: UInt64] = [
            FlowTable.counterIndex(BP_FLOW_EV_CREATED, proto: udp): 9,
            FlowTable.counterIndex(BP_FLOW_EV_EXPIRED, proto: udp): 2,
            FlowTable.counterIndex(BP_FLOW_EV_REAPED, proto: udp): 1,
            FlowTable.gcRunsIndex: 4,
        ]
        var input = ScrapeInput(registry: Registry(networks: []), counters: TrafficCounters(), running: [])
        input.flows = FlowStatistics(capacity: 1000, census: census, counters: counters, lastPassSeconds: 0.25)
        let text = ExpositionFormat.prometheus.render(Exporter.families(input))
        #expect(text.contains("bridgeport_flows{protocol=\"tcp\",state=\"established\"} 7\n"))
        #expect(
            text.contains("bridgeport_flows{protocol=\"tcp\",state=\"syn_sent\"} 0\n"), "every state has its series")
        #expect(text.contains("bridgeport_flows{protocol=\"udp\",state=\"stream\"} 0\n"))
        #expect(text.contains("bridgeport_flows_max 1000\n"))
        #expect(text.contains("bridgeport_flows_created_total{protocol=\"udp\"} 9\n"))
        #expect(
            text.contains("bridgeport_flows_expired_total{protocol=\"udp\"} 3\n"),
            "expired by the collector and by the programs")
        #expect(text.contains("bridgeport_flow_gc_runs_total 4\n"))
        #expect(text.contains("bridgeport_flow_gc_duration_seconds 0.25\n"))
        #expect(text.contains("bridgeport_masquerade_flows{host_ip=\"198.51.100.1\",protocol=\"udp\"} 5\n"))
        #expect(text.contains("bridgeport_masquerade_ports_in_use{host_ip=\"198.51.100.1\",protocol=\"udp\"} 3\n"))
        #expect(text.contains("# TYPE bridgeport_flows_evicted_total counter\n"))
    }

    @Test func flowTimeoutsTakeGoDurations() throws {
        var timeouts = FlowTimeouts()
        try timeouts.apply("udp=2s")
        try timeouts.apply("tcp-established=1h30m")
        #expect(timeouts["udp"] == 2)
        #expect(timeouts["tcp-established"] == 5400)
        #expect(timeouts["icmp"] == 30, "Linux's default where none is given")
        #expect(throws: ModelError.self) { try timeouts.apply("udp") }
        #expect(throws: ModelError.self) { try timeouts.apply("sctp=2s") }
        #expect(throws: ModelError.self) { try timeouts.apply("udp=2") }
        #expect(throws: ModelError.self) { try timeouts.apply("udp=500ms") }
        #expect(throws: ModelError.self) { try timeouts.apply("udp=-5s") }
    }
}

extension ExporterTests {
    /// The whole text of a small scrape, byte for byte: every family's HELP and TYPE, the
    /// order of families and series, and label values that need escaping (a container
    /// name with a double quote, a backslash and a newline).
    @Test func wholeTextOfASmallScrape() throws {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: Date(), hostPrefixes: []))
        let (planned, endpoints) = try registry.planContainer(
            ContainerRequest(name: "web", ports: ["5000:80"]), id: randomID(), now: Date())
        var container = planned
        container.name = "a\"b\\c\nd"
        registry.containers = [container]
        registry.endpoints = endpoints
        registry.attachments = [
            Attachment(
                containerID: "cni-1", interface: "eth0", network: "k8s", namespace: "/run/netns/cni-1",
                hostInterface: "veth-cni", ip: IPv4Address("10.22.0.5")!,
                mac: MACAddress(derivedFrom: IPv4Address("10.22.0.5")!),
                ports: [])
        ]
        let interface = try #require(endpoints.first?.hostInterface)
        var counters = TrafficCounters()
        counters.interfaces = [interface: 7, "veth-cni": 8]
        counters.interfaceNames = [7: interface, 2: "uplink0"]
        counters.endpoints[7] = bp_endpoint_stats(
            rx: bp_traffic(packets: 3, bytes: 300), tx: bp_traffic(packets: 2, bytes: 120))
        counters.endpoints[8] = bp_endpoint_stats(
            rx: bp_traffic(packets: 1, bytes: 10), tx: bp_traffic(packets: 0, bytes: UInt64.max))
        counters.drops[bp_drop_key(ifindex: 7, reason: BP_DROP_ICC, direction: BP_DIR_EGRESS)] = 4
        counters.drops[bp_drop_key(ifindex: 2, reason: BP_DROP_DIRECT_ACCESS, direction: BP_DIR_INGRESS)] = 5
        counters.ports[HostPort(.tcp, IPv4Address.any, 5000)] = bp_port_stats(packets: 10, bytes: 600, flows: 2)
        counters.programs = [(name: "bp_endpoint_ingress", hook: "tcx", runs: 12, nanoseconds: 1_500_000_000)]
        let families = Exporter.families(ScrapeInput(registry: registry, counters: counters, running: [container.id]))

        let web = #"container="a\"b\\c\nd",network="bridge",interface="\#(interface)""#
        let cni = #"container="cni-1",network="k8s",interface="veth-cni""#
        #expect(
            ExpositionFormat.prometheus.render(families) == #"""
                # HELP bridgeport_container_network_receive_bytes_total Bytes received by the container on this interface.
                # TYPE bridgeport_container_network_receive_bytes_total counter
                bridgeport_container_network_receive_bytes_total{\#(web)} 300
                bridgeport_container_network_receive_bytes_total{\#(cni)} 10
                # HELP bridgeport_container_network_receive_packets_total Packets received by the container on this interface.
                # TYPE bridgeport_container_network_receive_packets_total counter
                bridgeport_container_network_receive_packets_total{\#(web)} 3
                bridgeport_container_network_receive_packets_total{\#(cni)} 1
                # HELP bridgeport_container_network_transmit_bytes_total Bytes sent by the container on this interface.
                # TYPE bridgeport_container_network_transmit_bytes_total counter
                bridgeport_container_network_transmit_bytes_total{\#(web)} 120
                bridgeport_container_network_transmit_bytes_total{\#(cni)} 18446744073709551615
                # HELP bridgeport_container_network_transmit_packets_total Packets sent by the container on this interface.
                # TYPE bridgeport_container_network_transmit_packets_total counter
                bridgeport_container_network_transmit_packets_total{\#(web)} 2
                bridgeport_container_network_transmit_packets_total{\#(cni)} 0
                # HELP bridgeport_container_network_drops_total Packets of the container dropped by Bridgeport, by reason and direction (from the container's point of view).
                # TYPE bridgeport_container_network_drops_total counter
                bridgeport_container_network_drops_total{\#(web),reason="icc",direction="egress"} 4
                # HELP bridgeport_host_network_drops_total Packets dropped on the host's uplinks, by reason.
                # TYPE bridgeport_host_network_drops_total counter
                bridgeport_host_network_drops_total{interface="uplink0",reason="direct_access",direction="ingress"} 5
                # HELP bridgeport_published_port_packets_total Packets from outside the host through the published port.
                # TYPE bridgeport_published_port_packets_total counter
                bridgeport_published_port_packets_total{protocol="tcp",host_ip="0.0.0.0",host_port="5000",container="a\"b\\c\nd",container_port="80"} 10
                # HELP bridgeport_published_port_bytes_total Bytes from outside the host through the published port.
                # TYPE bridgeport_published_port_bytes_total counter
                bridgeport_published_port_bytes_total{protocol="tcp",host_ip="0.0.0.0",host_port="5000",container="a\"b\\c\nd",container_port="80"} 600
                # HELP bridgeport_published_port_flows_total New flows through the published port (from outside, from the host and from containers).
                # TYPE bridgeport_published_port_flows_total counter
                bridgeport_published_port_flows_total{protocol="tcp",host_ip="0.0.0.0",host_port="5000",container="a\"b\\c\nd",container_port="80"} 2
                # HELP bridgeport_bpf_program_runs_total Times the kernel ran the BPF program (counted with --bpf-stats).
                # TYPE bridgeport_bpf_program_runs_total counter
                bridgeport_bpf_program_runs_total{program="bp_endpoint_ingress",attach_mode="tcx"} 12
                # HELP bridgeport_bpf_program_run_seconds_total Time the kernel spent in the BPF program (counted with --bpf-stats).
                # TYPE bridgeport_bpf_program_run_seconds_total counter
                bridgeport_bpf_program_run_seconds_total{program="bp_endpoint_ingress",attach_mode="tcx"} 1.5
                # HELP bridgeport_build_info Bridgeport's version; always 1.
                # TYPE bridgeport_build_info gauge
                bridgeport_build_info{version="\#(bridgeportVersion)"} 1
                # HELP bridgeport_networks Networks the agent manages.
                # TYPE bridgeport_networks gauge
                bridgeport_networks \#(registry.networks.count)
                # HELP bridgeport_containers Containers the agent manages, by state.
                # TYPE bridgeport_containers gauge
                bridgeport_containers{state="running"} 1
                bridgeport_containers{state="stopped"} 0
                # HELP bridgeport_published_ports Host ports published to containers.
                # TYPE bridgeport_published_ports gauge
                bridgeport_published_ports 1

                """#)

        // OpenMetrics: a counter family is named without _total, its samples with; # EOF ends it.
        let some = families.filter { ["bridgeport_host_network_drops", "bridgeport_containers"].contains($0.name) }
        #expect(
            ExpositionFormat.openMetrics.render(some) == #"""
                # HELP bridgeport_host_network_drops Packets dropped on the host's uplinks, by reason.
                # TYPE bridgeport_host_network_drops counter
                bridgeport_host_network_drops_total{interface="uplink0",reason="direct_access",direction="ingress"} 5
                # HELP bridgeport_containers Containers the agent manages, by state.
                # TYPE bridgeport_containers gauge
                bridgeport_containers{state="running"} 1
                bridgeport_containers{state="stopped"} 0
                # EOF

                """#)

        // Without --bpf-stats the kernel counts no runs: no program families at all, not zeros.
        counters.programs = []
        let unmeasured = Exporter.families(ScrapeInput(registry: registry, counters: counters, running: [container.id]))
        #expect(!unmeasured.contains { $0.name.hasPrefix("bridgeport_bpf_program") })
        #expect(unmeasured.count == families.count - 2)
    }

    /// Integers are written by hand: every digit of the extremes, and negative values.
    @Test func integersKeepEveryDigit() {
        var family = MetricFamily(name: "x", help: "h", kind: .gauge)
        for value in [0, 9, 10, 1_000_000, Int64.min, Int64.max] { family.add([], value) }
        family.add([("n", "v")], UInt64.max)
        var labels = LabelSet()
        labels.append("port", UInt16(65535))
        labels.append("offset", -42)
        family.add(labels, 7)
        #expect(
            ExpositionFormat.prometheus.render([family]) == """
                # HELP x h
                # TYPE x gauge
                x 0
                x 9
                x 10
                x 1000000
                x -9223372036854775808
                x 9223372036854775807
                x{n="v"} 18446744073709551615
                x{port="65535",offset="-42"} 7

                """)
    }
}
