// Scrape cost at 1,000 and 10,000 endpoints (run by `make bench`): the batched read of a
// per-CPU counter map of that size, building the families from a registry of that size,
// rendering the text and gzipping it (as when Prometheus asks for gzip, its default), each
// timed on its own (medians of 15 runs); total = read + families + render (+ gzip). Then
// the resident memory over 1,000 scrapes at 10,000 endpoints, and what finding the
// endpoints' veths costs among 1,000 and 10,000 links.
import BPF
import CBPF
import Daemon
import Datapath
import Foundation
import Links
import Model

func milliseconds(_ elapsed: Duration) -> Double {
    Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15
}

func median(_ runs: Int = 15, _ body: () throws -> Void) rethrows -> Double {
    var samples: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try body()
        samples.append(milliseconds(ContinuousClock.now - start))
    }
    return samples.sorted()[runs / 2]
}

func format(_ value: Double) -> String { String(format: "%.1f", value) }

/// VmRSS of this process, in KiB.
func residentKiB() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

/// A registry of `count` running containers, one endpoint each, with their counters as the
/// endpoint programs keep them: entries in an endpoint map, each naming its slot of a per-CPU
/// array of the agent's size.
struct Fixture {
    var registry: Registry
    var counters = TrafficCounters()
    let stats: BPFPerCPUHashMap<UInt32, bp_endpoint_stats>
    let endpoints: BPFHashMap<UInt32, bp_endpoint>
    let slots: [UInt32: UInt32]
    let running: Set<String>

    init(endpoints count: Int) throws {
        let map = try BPFMap.create(
            name: "bench_stats", type: BPF_MAP_TYPE_PERCPU_ARRAY, keySize: 4,
            valueSize: MemoryLayout<bp_endpoint_stats>.size, maxEntries: UInt32(BP_MAX_ENDPOINTS))
        stats = try BPFPerCPUHashMap<UInt32, bp_endpoint_stats>(map)
        endpoints = try BPFHashMap(
            BPFMap.create(
                name: "bench_endpoints", type: BPF_MAP_TYPE_HASH, keySize: 4,
                valueSize: MemoryLayout<bp_endpoint>.size, maxEntries: UInt32(BP_MAX_ENDPOINTS)))
        let perCPU = [bp_endpoint_stats](
            repeating: bp_endpoint_stats(
                rx: bp_traffic(packets: 10, bytes: 1500), tx: bp_traffic(packets: 5, bytes: 400)),
            count: BPFMap.possibleCPUs)
        for index in 1...UInt32(count) {
            try map.updatePerCPU(index, perCPU)
            var entry = bp_endpoint()
            entry.stats_slot = index
            try endpoints.update(index, entry)
        }
        // What the agent, the entries' writer, holds from them between scrapes (EndpointSlotIndex).
        slots = BridgeportMaps.slots(of: try endpoints.entries())

        registry = Registry(networks: try Registry.predefinedNetworks(now: Date(), hostPrefixes: []))
        let network = try registry.planNetwork(
            NetworkRequest(name: "bench", subnet: "10.128.0.0/9"), id: randomID(), now: Date(), hostPrefixes: [])
        registry.networks.append(network)
        for index in 1...count {
            let container = Container(
                id: randomID(), name: "c\(index)", hostname: "c\(index)", command: ["sleep", "infinity"],
                created: Date(), networkMode: "bench", ports: [], process: ProcessState())
            let ip = IPv4Address(network.subnet!.address.value + UInt32(index) + 1)
            let endpoint = Endpoint(
                containerID: container.id, networkID: network.id, ip: ip, mac: MACAddress(derivedFrom: ip),
                hostInterface: "veth\(index)", containerInterface: "eth0", order: 0)
            registry.containers.append(container)
            registry.endpoints.append(endpoint)
            counters.interfaces["veth\(index)"] = UInt32(index)
        }
        running = Set(registry.containers.map(\.id))
    }

    /// What the agent reads per scrape for the endpoints' counters.
    mutating func read() throws {
        counters.endpoints = try BridgeportMaps.endpointTraffic(stats: stats, slots: slots)
    }

    var input: ScrapeInput { ScrapeInput(registry: registry, counters: counters, running: running) }

    /// One scrape as the endpoint serves it to Prometheus: read, families, text, gzip.
    mutating func scrape() throws -> [UInt8] {
        try read()
        return Gzip.compress(ExpositionFormat.prometheus.bytes(Exporter.families(input))) ?? []
    }
}

print(
    "| endpoints | map read (batched, per-CPU summed) ms | families ms | render ms | total ms | gzip ms | total with gzip ms | output KiB | gzipped KiB |"
)
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for count in [1_000, 10_000] {
    var fixture = try Fixture(endpoints: count)
    let read = try median { try fixture.read() }
    var families: [MetricFamily] = []
    let build = median { families = Exporter.families(fixture.input) }
    var text: [UInt8] = []
    let render = median { text = ExpositionFormat.prometheus.bytes(families) }
    var compressed: [UInt8] = []
    let gzip = median { compressed = Gzip.compress(text) ?? [] }
    print(
        "| \(count) | \(format(read)) | \(format(build)) | \(format(render)) | \(format(read + build + render)) | \(format(gzip)) | \(format(read + build + render + gzip)) | \(text.count / 1024) | \(compressed.count / 1024) |"
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
        let render = median { bytes = ExpositionFormat.prometheus.bytes(Exporter.families(input)).count }
        print("| 10000 | \(series.rawValue) | \(format(render)) | \(bytes / 1024) |")
    }
}

// Resident memory over 1,000 scrapes at 10,000 endpoints (read, families, text, gzip): flat
// unless a scrape leaves something behind. "after 10" is after the allocator's warm-up.
do {
    var fixture = try Fixture(endpoints: 10_000)
    let held = residentKiB()
    for _ in 0..<10 { _ = try fixture.scrape() }
    let warm = residentKiB()
    for _ in 0..<990 { _ = try fixture.scrape() }
    let after = residentKiB()
    print("\n| resident memory, 10,000 endpoints | KiB |")
    print("| --- | --- |")
    print("| registry and counters held | \(held) |")
    print("| after 10 scrapes | \(warm) |")
    print("| after 1,000 scrapes | \(after) |")
    print("| growth from 10 to 1,000 scrapes | \(after - warm) |")
}

// The ifindexes of the endpoints' veths, which key their counters, among that many veths in
// a network namespace of this run (their peers in another): a dump of every link (what each
// scrape did before), a lookup of each by name (the first scrape after the agent starts),
// and those kept (every other scrape while the agent reads link events).
print("\n| veths | dump of every link ms | lookup of each by name ms | kept ms |")
print("| --- | --- | --- | --- |")
for count in [1_000, 10_000] {
    let base = "/tmp/exporter-bench-\(getpid())"
    try NetworkNamespace.create(at: base + "-host")
    defer { try? NetworkNamespace.delete(at: base + "-host") }
    try NetworkNamespace.create(at: base + "-peers")
    defer { try? NetworkNamespace.delete(at: base + "-peers") }
    let peers = open(base + "-peers", O_RDONLY | O_CLOEXEC)
    guard peers >= 0 else { fatalError("open \(base)-peers: \(errno)") }
    defer { close(peers) }
    let links = try RouteSocket(namespace: base + "-host")
    let names = (1...count).map { "veth\($0)" }
    for (index, name) in names.enumerated() {
        try links.addVeth(
            host: name, alias: "bench", peer: "eth\(index)", peerNamespace: peers, peerMAC: [2, 0, 0, 0, 0, 1])
    }
    let dump = try median {
        var indexes: [String: UInt32] = [:]
        for link in try links.links() { indexes[link.name] = UInt32(link.index) }
        precondition(indexes.count > count)
    }
    let cache = InterfaceIndexCache(links: links)
    let lookups = median(5) {
        cache.follow(true)  // forgets what was kept
        precondition(cache.indexes(of: names).count == count)
    }
    let kept = median { precondition(cache.indexes(of: names).count == count) }
    print("| \(count) | \(format(dump)) | \(format(lookups)) | \(format(kept)) |")
}
