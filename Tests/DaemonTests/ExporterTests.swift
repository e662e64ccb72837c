@testable import Daemon
import CBPF
import Foundation
import Model
import Testing

@Suite struct ExpositionTests {
    func family() -> MetricFamily {
        var family = MetricFamily(name: "x_bytes", help: "Help with \\ and\nnewline.", kind: .counter)
        family.add([("container", "a\"b\\c\nd")], UInt64.max)
        return family
    }

    @Test func prometheusText() {
        let text = ExpositionFormat.prometheus.render([family()])
        #expect(text == """
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
        #expect(ExpositionFormat(accept: "application/openmetrics-text; version=1.0.0,text/plain;q=0.5") == .openMetrics)
        #expect(ExpositionFormat(accept: "text/plain") == .prometheus)
        #expect(ExpositionFormat(accept: nil) == .prometheus)
        #expect(Gzip.accepted(by: "gzip, deflate"))
        #expect(!Gzip.accepted(by: "gzip;q=0"))
        #expect(!Gzip.accepted(by: nil))
    }

    @Test func gzipRoundTrip() throws {
        let input = Array(String(repeating: "bridgeport_metric 1\n", count: 100).utf8)
        let compressed = try #require(Gzip.compress(input))
        #expect(compressed.prefix(2) == [0x1f, 0x8b])
        #expect(compressed.count < input.count)
    }
}

@Suite struct ExporterTests {
    @Test func seriesFollowTheRegistry() throws {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: Date(), hostPrefixes: []))
        let (container, endpoint) = try registry.planContainer(ContainerRequest(name: "web", ports: ["5000:80"]), id: randomID(), now: Date())
        registry.containers = [container]
        registry.endpoints = [endpoint!]
        var counters = TrafficCounters()
        counters.interfaces = [endpoint!.hostInterface!: 7, "uplink0": 2]
        counters.endpoints[7] = bp_endpoint_stats(rx: bp_traffic(packets: 3, bytes: 300), tx: bp_traffic(packets: 2, bytes: 120))
        counters.endpoints[9] = bp_endpoint_stats(rx: bp_traffic(packets: 1, bytes: 1), tx: bp_traffic())  // a removed endpoint
        counters.drops[bp_drop_key(ifindex: 7, reason: BP_DROP_ICC, direction: BP_DIR_EGRESS)] = 4
        counters.drops[bp_drop_key(ifindex: 2, reason: BP_DROP_DIRECT_ACCESS, direction: BP_DIR_INGRESS)] = 5
        counters.ports[TrafficCounters.hostSide(.tcp, .any, 5000)] = bp_port_stats(packets: 10, bytes: 600, flows: 2)

        let text = ExpositionFormat.prometheus.render(Exporter.families(ScrapeInput(registry: registry, counters: counters, running: [container.id])))
        let labels = "container=\"web\",network=\"bridge\",interface=\"\(endpoint!.hostInterface!)\""
        #expect(text.contains("bridgeport_container_network_receive_bytes_total{\(labels)} 300\n"))
        #expect(text.contains("bridgeport_container_network_transmit_packets_total{\(labels)} 2\n"))
        #expect(text.contains("bridgeport_container_network_drops_total{\(labels),reason=\"icc\",direction=\"egress\"} 4\n"))
        #expect(text.contains("bridgeport_host_network_drops_total{interface=\"uplink0\",reason=\"direct_access\",direction=\"ingress\"} 5\n"))
        #expect(text.contains("bridgeport_published_port_flows_total{protocol=\"tcp\",host_ip=\"0.0.0.0\",host_port=\"5000\",container=\"web\",container_port=\"80\"} 2\n"))
        #expect(text.contains("bridgeport_containers{state=\"running\"} 1\n"))
        #expect(!text.contains("} 1\nbridgeport_container_network_receive_bytes_total{container=\"\""))
        #expect(text.components(separatedBy: "bridgeport_container_network_receive_bytes_total{").count == 2)  // only the live endpoint
    }
}
