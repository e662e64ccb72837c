// Scrape cost at 1,000 and 10,000 endpoints (run by `make bench`): the batched read of a
// per-CPU counter map of that size, and building and rendering the families from a
// registry of that size. Prints medians of 15 runs.
import BPF
import CBPF
import Daemon
import Datapath
import Foundation
import Model

func median(_ runs: Int = 15, _ body: () throws -> Void) rethrows -> Double {
    var samples: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        samples.append(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15)
    }
    return samples.sorted()[runs / 2]
}

print("| endpoints | map read (batched, per-CPU summed) ms | families + render ms | total ms | output KiB |")
print("| --- | --- | --- | --- | --- |")
for count in [1_000, 10_000] {
    let map = try BPFMap.create(
        name: "bench_stats", type: BPF_MAP_TYPE_PERCPU_HASH, keySize: 4,
        valueSize: MemoryLayout<bp_endpoint_stats>.size, maxEntries: UInt32(count))
    let stats = try BPFPerCPUHashMap<UInt32, bp_endpoint_stats>(map)
    let perCPU = [bp_endpoint_stats](
        repeating: bp_endpoint_stats(rx: bp_traffic(packets: 10, bytes: 1500), tx: bp_traffic(packets: 5, bytes: 400)),
        count: BPFMap.possibleCPUs)
    for index in 1...UInt32(count) { try map.updatePerCPU(index, perCPU) }

    var registry = Registry(networks: try Registry.predefinedNetworks(now: Date(), hostPrefixes: []))
    let network = try registry.planNetwork(
        NetworkRequest(name: "bench", subnet: "10.128.0.0/9"), id: randomID(), now: Date(), hostPrefixes: [])
    registry.networks.append(network)
    var counters = TrafficCounters()
    for index in 1...count {
        let container = Container(
            id: randomID(), name: "c\(index)", hostname: "c\(index)", command: ["sleep", "infinity"], created: Date(),
            networkMode: "bench", ports: [], process: ProcessState())
        let ip = IPv4Address(network.subnet!.address.value + UInt32(index) + 1)
        let endpoint = Endpoint(
            containerID: container.id, networkID: network.id, ip: ip, mac: MACAddress(derivedFrom: ip),
            hostInterface: "veth\(index)", containerInterface: "eth0", order: 0)
        registry.containers.append(container)
        registry.endpoints.append(endpoint)
        counters.interfaces["veth\(index)"] = UInt32(index)
    }
    var bytes = 0
    let read = try median {
        counters.endpoints = Dictionary(try stats.sums().map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    }
    let running = Set(registry.containers.map(\.id))
    let render = median {
        bytes =
            ExpositionFormat.prometheus.render(
                Exporter.families(ScrapeInput(registry: registry, counters: counters, running: running))
            ).utf8.count
    }
    print(
        "| \(count) | \(String(format: "%.1f", read)) | \(String(format: "%.1f", render)) | \(String(format: "%.1f", read + render)) | \(bytes / 1024) |"
    )
}

// Published ports, the families whose cardinality grows fastest: 10,000 ports of one
// container, rendered per port (three series each) and per container (--metrics-port-series).
print("\n| published ports | series | families + render ms | output KiB |")
print("| --- | --- | --- | --- |")
do {
    var registry = Registry(networks: try Registry.predefinedNetworks(now: Date(), hostPrefixes: []))
    var container = Container(
        id: randomID(), name: "web", hostname: "web", command: ["sleep", "infinity"], created: Date(),
        networkMode: "bridge", ports: [], process: ProcessState())
    var counters = TrafficCounters()
    for port in UInt16(20_000)..<30_000 {
        container.ports.append(PortMapping(proto: .tcp, containerPort: port, hostIP: .v4(.any), hostPort: port))
        counters.ports[HostPort(.tcp, IPv4Address.any, port)] = bp_port_stats(packets: 10, bytes: 1500, flows: 2)
    }
    registry.containers = [container]
    for series in [PortSeries.perPort, .perContainer] {
        var bytes = 0
        var input = ScrapeInput(registry: registry, counters: counters, running: [container.id])
        input.portSeries = series
        let render = median { bytes = ExpositionFormat.prometheus.render(Exporter.families(input)).utf8.count }
        print("| 10000 | \(series.rawValue) | \(String(format: "%.1f", render)) | \(bytes / 1024) |")
    }
}

// Resident memory of this process holding a 10,000-endpoint registry and its counters:
// the agent's structures at that size, without its servers.
let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
if let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) {
    print(
        "\nresident memory with the 10,000-endpoint registry: \(line.dropFirst(6).trimmingCharacters(in: .whitespaces))"
    )
}
