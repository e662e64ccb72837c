import BPF
import CBPF
import Foundation
import Glibc
import XCTest

/// `make bench`: the flow table at 10,000, 100,000 and 1,000,000 flows, in
/// DataplaneFixture's namespace. The table is filled by the uplink program itself (a SYN
/// from a new client to a published port per run: DNAT and both entries), so the insert
/// cost is the kernel's measure of a real new flow as the table grows. Then: the table's
/// kernel memory (the map's memlock: the preallocated table's whole size), a
/// collector pass that removes nothing and one that removes everything (the release build's
/// collector, in flow-bench: BRIDGEPORT_FLOW_BENCH), and an established flow's packet with
/// and without passes running on the other CPU. Skipped unless BRIDGEPORT_BENCH_FLOWS_OUT
/// names the markdown file to write.
final class FlowTableBenchmarks: XCTestCase {
    typealias T = NATAndPolicyTests
    typealias P = ProgramCostBenchmarks

    struct Row {
        var flows: Int
        var insertNanoseconds: Double
        var memoryBytes: Int
        var scanSeconds: Double
        var removeAllSeconds: Double
        var packetIdle: Double
        var packetDuringPass: Double
        var passesDuring: Int
    }

    func testFlowTableAtScale() throws {
        guard let outPath = getenv("BRIDGEPORT_BENCH_FLOWS_OUT").map({ String(cString: $0) }), !outPath.isEmpty else {
            throw XCTSkip("benchmark: set BRIDGEPORT_BENCH_FLOWS_OUT=<file.md> to run it (make bench)")
        }
        try Sandbox.requireRoot()
        try DataplaneFixture.buildObjects()
        let sizes =
            getenv("BRIDGEPORT_BENCH_FLOW_SIZES").map {
                String(cString: $0).split(separator: " ").compactMap { Int($0) }
            }
            ?? [10_000, 100_000, 1_000_000]
        var rows: [Row] = []
        for size in sizes { rows.append(try measure(flows: size)) }
        let table = Self.render(rows)
        print(table)
        try table.write(toFile: outPath, atomically: true, encoding: .utf8)
    }

    func measure(flows count: Int) throws -> Row {
        // 80% full: below the fill at which the collector evicts embryonic flows (these are).
        let f = try DataplaneFixture.make(for: self, maxFlows: count * 5 / 4)
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        try f.publish(host: T.hostIP, P.publishedPort, proto: T.tcp, to: T.container, P.containerPort)
        try f.inNS(
            "ip", "neigh", "replace", "10.40.0.2", "lladdr", "02:42:0a:28:00:02", "nud", "permanent", "dev", "bpt-ep")
        let table = f.maps.flows
        let up = (prog: f.uplink, ifindex: f.uplinkIfindex)

        // Fill: `count` new published flows, each a SYN from another client.
        let syn = Frame.tcp(src: P.newClient(0).ip, dst: T.hostIP, sport: P.newClient(0).port, dport: P.publishedPort)
        let (insertNs, wrong) = try Sandbox.inNetns(f.ns) {
            try P.separateRuns(
                up.prog, ifindex: up.ifindex, ingressIfindex: up.ifindex, template: syn, runs: count, warmup: 0,
                verdict: T.redirect, prepare: { i, frame in P.setSource(&frame, P.newClient(i)) })
        }
        try P.check(wrong == 0, "\(count) flows: \(wrong) SYNs were not redirected")
        let memory = try Self.memlock(table.map)

        // Passes of the release build's collector (flow-bench, as the agent runs it): one that
        // finds every flow alive; one flow's packet idle and while passes run back to back.
        let scan = try Self.flowBench(["collect", f.pinRoot, "3"])
        try P.check(scan.hasSuffix("removed 0 counted \(count)"), "\(count) flows: the collector said \(scan)")
        let client = P.newClient(7)
        let ack = Frame.tcp(
            src: client.ip, dst: T.hostIP, sport: client.port, dport: P.publishedPort, flags: Frame.tcpACK,
            payload: Array(repeating: 0x61, count: 64))
        let runs = 200_000
        let idle = try Sandbox.inNetns(f.ns) {
            try P.separateRuns(
                up.prog, ifindex: up.ifindex, ingressIfindex: up.ifindex, template: ack, runs: runs, warmup: 1_000,
                verdict: T.redirect)
        }
        let loop = Process()
        loop.executableURL = URL(fileURLWithPath: try Self.flowBenchPath())
        loop.arguments = ["collect-loop", f.pinRoot]
        let output = Pipe()
        loop.standardOutput = output
        try loop.run()
        let during = try Sandbox.inNetns(f.ns) {
            try P.separateRuns(
                up.prog, ifindex: up.ifindex, ingressIfindex: up.ifindex, template: ack, runs: runs, warmup: 1_000,
                verdict: T.redirect)
        }
        loop.terminate()
        loop.waitUntilExit()
        let passes =
            Int(
                String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    .split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        try P.check(
            idle.wrongVerdicts == 0 && during.wrongVerdicts == 0,
            "\(count) flows: the established flow's packet was not redirected")

        // A pass a week later: everything expired and goes, both entries of each flow.
        let removal = try Self.flowBench(["collect", f.pinRoot, "1", "\(7 * 86_400)"])
        try P.check(
            removal.hasSuffix("removed \(count) counted 0"), "\(count) flows: the removing pass said \(removal)")
        try P.check(try f.flowEntries().isEmpty, "\(count) flows: entries left after removing all")
        let milliseconds = { (line: String) in Double(line.split(separator: " ")[1]) ?? .nan }
        return Row(
            flows: count, insertNanoseconds: insertNs, memoryBytes: memory, scanSeconds: milliseconds(scan) / 1000,
            removeAllSeconds: milliseconds(removal) / 1000, packetIdle: idle.nanoseconds,
            packetDuringPass: during.nanoseconds,
            passesDuring: passes)
    }

    /// The release build's flow-bench (BRIDGEPORT_FLOW_BENCH, set by bench/run.sh).
    static func flowBenchPath() throws -> String {
        guard let path = getenv("BRIDGEPORT_FLOW_BENCH").map({ String(cString: $0) }), access(path, X_OK) == 0 else {
            throw P.Check.failed("set BRIDGEPORT_FLOW_BENCH to the release build's flow-bench (make bench does)")
        }
        return path
    }

    /// Runs flow-bench to the end; its output's last line.
    static func flowBench(_ arguments: [String]) throws -> String {
        let (status, output) = Sandbox.run([try flowBenchPath()] + arguments)
        try P.check(status == 0, "flow-bench \(arguments.joined(separator: " ")): \(output)")
        return output.split(separator: "\n").last.map(String.init) ?? ""
    }

    /// The map's kernel memory, as /proc/self/fdinfo shows it ("memlock:").
    static func memlock(_ map: BPFMap) throws -> Int {
        let info = try String(contentsOfFile: "/proc/self/fdinfo/\(map.fd)", encoding: .utf8)
        guard let line = info.split(separator: "\n").first(where: { $0.hasPrefix("memlock:") }),
            let bytes = Int(line.split(separator: "\t").last ?? "")
        else { throw P.Check.failed("no memlock in fdinfo") }
        return bytes
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func render(_ rows: [Row]) -> String {
        func number(_ n: Int) -> String {
            let digits = String(n)
            return digits.enumerated().map { i, c in (i > 0 && (digits.count - i) % 3 == 0 ? "," : "") + String(c) }
                .joined()
        }
        var lines = [
            "| flows (table size) | new flow (uplink, DNAT + both entries) ns | table memory MiB | bytes per flow of size | collector pass, all alive, ms | pass removing all, ms "
                + "| established packet ns, idle | … during passes (passes) |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in rows {
            lines.append(
                "| \(number(r.flows)) (\(number(r.flows * 5 / 4))) | \(String(format: "%.0f", r.insertNanoseconds)) | "
                    + "\(String(format: "%.1f", Double(r.memoryBytes) / 1_048_576)) | \(r.memoryBytes / max(r.flows * 5 / 4, 1)) | "
                    + "\(String(format: "%.1f", r.scanSeconds * 1000)) | \(String(format: "%.1f", r.removeAllSeconds * 1000)) | "
                    + "\(String(format: "%.0f", r.packetIdle)) | \(String(format: "%.0f", r.packetDuringPass)) (\(r.passesDuring)) |"
            )
        }
        lines += [
            "",
            "Each table is sized for a quarter more flows than it is filled with (the collector evicts embryonic flows above 90%). "
                + "New flows: the mean of the kernel-measured runs that filled the table (separate BPF_PROG_TEST_RUN runs, so an "
                + "upper bound by the clock reads around each run). Memory: the map's memlock in /proc/self/fdinfo; the table is "
                + "preallocated, so that is its whole size's (two elements per flow, and the buckets). Packets: 200,000 "
                + "separate runs of an established flow's ACK, with the collector idle and with passes running back to back "
                + "on another thread.",
            "",
        ]
        return lines.joined(separator: "\n")
    }
}
