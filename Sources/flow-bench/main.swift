// `make bench`: the flow table, measured in the release build the agent runs.
//
//   flow-bench fill MAPS COUNT
//       fills the flow table pinned in MAPS (bp_flows and its siblings) with COUNT
//       synthetic masqueraded flows, both entries each, expiring in a day (bench/flows.sh:
//       connections through a published port against a table of that size)
//   flow-bench collect MAPS [PASSES [LATER_SECONDS]]
//       runs PASSES collector passes (default 1) as if LATER_SECONDS had passed (default
//       0), and prints "pass_ms MEDIAN_MS removed N counted N" (FlowTableBenchmarks)
//   flow-bench collect-loop MAPS
//       runs passes back to back until SIGTERM, then prints "passes N"
import BPF
import CBPF
import Foundation

func table(_ directory: String) throws -> FlowTable {
    try FlowTable(
        flows: .openPinned(directory + "/" + BP_MAP_FLOWS),
        counters: .openPinned(directory + "/" + BP_MAP_FLOW_COUNTERS),
        config: .openPinned(directory + "/" + BP_MAP_FLOW_CONFIG))
}

func milliseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15
}

func fill(_ directory: String, count: Int) throws {
    let map = try BPFMap.openPinned(directory + "/" + BP_MAP_FLOWS)
    let now = FlowTable.now()
    let host = UInt32(0xC633_6401).bigEndian  // 198.51.100.1
    var start = 0
    let ms = try milliseconds {
        while start < count {
            var keys: [bp_flow_key] = []
            var values: [bp_flow] = []
            for i in start..<min(start + 65_536, count) {
                // Flow i: 10.200.x.y:(1024 + i % 60000) -> 198.18.a.b:443, leaving with the host's port of the same number.
                let container = (0x0AC8_0000 | UInt32(i / 60_000 & 0xffff)).bigEndian
                let remote = (0xC612_0000 | UInt32(i % 60_000 / 4 & 0xffff)).bigEndian
                let port = UInt16(1024 + i % 60_000).bigEndian
                let out = bp_flow(
                    kind: BP_FLOW_MASQUERADE, state: BP_FLOW_ESTABLISHED, flags: BP_FLOW_F_SNAT.rawValue,
                    natIP: host, natPort: port, created: now, expires: now + 86_400)
                let back = bp_flow(
                    kind: BP_FLOW_MASQUERADE, state: BP_FLOW_ESTABLISHED,
                    flags: BP_FLOW_F_DNAT.rawValue | BP_FLOW_F_REPLY.rawValue,
                    natIP: container, natPort: port, created: now, expires: now + 86_400)
                let original = bp_flow_key(
                    src: container, dst: remote, sport: port, dport: UInt16(443).bigEndian,
                    proto: UInt8(BP_PROTO_TCP.rawValue))
                keys += [original, FlowTable.otherKey(original, out)]
                values += [out, back]
            }
            try map.updateBatch(keys, values)
            start += 65_536
        }
    }
    print("filled \(count) flows in \(Int(ms)) ms")
}

func collect(_ directory: String, passes: Int, later: UInt32) throws {
    let flows = try table(directory)
    var times: [Double] = []
    var last = FlowTable.Pass()
    for _ in 0..<passes {
        times.append(try milliseconds { last = try flows.collect(now: FlowTable.now() + later) })
    }
    print("pass_ms \(times.sorted()[times.count / 2]) removed \(last.removed) counted \(last.census.total)")
}

// Written by the SIGTERM handler only, read by the one loop: what sig_atomic_t is for.
nonisolated(unsafe) var stopped: sig_atomic_t = 0

func collectLoop(_ directory: String) throws {
    let flows = try table(directory)
    signal(SIGTERM) { _ in stopped = 1 }
    var passes = 0
    while stopped == 0 {
        _ = try flows.collect()
        passes += 1
    }
    print("passes \(passes)")
}

let arguments = CommandLine.arguments
do {
    switch (arguments.dropFirst().first, arguments.count) {
    case ("fill", 4) where Int(arguments[3]) != nil:
        try fill(arguments[2], count: Int(arguments[3])!)
    case ("collect", 3...5):
        try collect(
            arguments[2], passes: arguments.count > 3 ? Int(arguments[3]) ?? 1 : 1,
            later: arguments.count > 4 ? UInt32(arguments[4]) ?? 0 : 0)
    case ("collect-loop", 3):
        try collectLoop(arguments[2])
    default:
        FileHandle.standardError.write(
            Data("usage: flow-bench fill MAPS COUNT | collect MAPS [PASSES [LATER_SECONDS]] | collect-loop MAPS\n".utf8)
        )
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("flow-bench: \(error)\n".utf8))
    exit(1)
}
