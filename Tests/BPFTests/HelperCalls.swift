import BPF
import CBPF
import Foundation

/// The helper and kfunc calls of the instrumented objects (`make bpf-counted`,
/// bpf/lib/helper_count.h), which count each call in the per-CPU map bp_helper_calls: by
/// helper, and for a map helper by the type of its map too (bridgeport.h, "Helper calls").
struct HelperCalls {
    /// Calls per packet, by slot (BP_HELPER_SLOT: helper id + BP_HELPER_IDS × map type).
    let perPacket: [Int: Double]

    /// bp_helper_calls under a pin root the counted objects were loaded with.
    static func map(pinRoot: String) throws -> BPFMap {
        try BPFMap.openPinned(pinRoot + "/" + BP_MAP_HELPER_CALLS)
    }

    /// The calls `body` makes programs make over `packets` runs, per packet: the counts are
    /// zeroed before it and read after it.
    static func counting<T>(_ map: BPFMap, packets: Int, _ body: () throws -> T) throws -> (T, HelperCalls) {
        try map.zeroBatch([UInt32(0)])
        let result = try body()
        let calls = try read(map).mapValues { Double($0) / Double(packets) }
        return (result, HelperCalls(perPacket: calls))
    }

    /// Every slot that counted a call, summed over CPUs.
    static func read(_ map: BPFMap) throws -> [Int: UInt64] {
        var sums: [Int: UInt64] = [:]
        try map.forEachRawEntry { _, values in
            for cpu in 0..<BPFMap.possibleCPUs {
                for slot in 0..<Int(BP_HELPER_SLOTS) {
                    let calls = values.loadUnaligned(
                        fromByteOffset: cpu * map.perCPUStride + slot * MemoryLayout<UInt64>.size, as: UInt64.self)
                    if calls > 0 { sums[slot, default: 0] += calls }
                }
            }
        }
        return sums
    }

    // MARK: what a slot is

    /// BP_HELPER_SLOT: a helper's calls, on maps of `mapType` for a map helper.
    static func slot(_ helper: bpf_func_id, _ mapType: bpf_map_type? = nil) -> Int {
        Int(mapType?.rawValue ?? 0) * Int(BP_HELPER_IDS) + Int(helper.rawValue)
    }

    static func helper(_ slot: Int) -> UInt32 { UInt32(slot % Int(BP_HELPER_IDS)) }
    static func mapType(_ slot: Int) -> UInt32 { UInt32(slot / Int(BP_HELPER_IDS)) }

    /// "redirect_peer", "map_lookup_elem(hash)", "cast_to_kern_ctx".
    static func name(_ slot: Int) -> String {
        let helper = helper(slot)
        let name =
            helper == UInt32(BP_KFUNC_CAST_TO_KERN_CTX)
            ? "cast_to_kern_ctx" : cbpf_helper_name(helper).map { String(cString: $0) } ?? "helper \(helper)"
        guard mapType(slot) != 0 else { return name }
        let type = libbpf_bpf_map_type_str(bpf_map_type(rawValue: mapType(slot))).map { String(cString: $0) }
        return name + "(\(type ?? "map type \(mapType(slot))"))"
    }

    /// Calls the verifier replaces with instructions of their own (Linux 6.10 and later, with
    /// the JIT): lookups of arrays, jiffies64, get_smp_processor_id, bpf_loop (its callback
    /// becomes a plain call), cast_to_kern_ctx. `bpftool prog dump xlated` shows none of them.
    static func isInlined(_ slot: Int) -> Bool {
        switch helper(slot) {
        case BPF_FUNC_map_lookup_elem.rawValue:
            return [BPF_MAP_TYPE_ARRAY.rawValue, BPF_MAP_TYPE_PERCPU_ARRAY.rawValue].contains(mapType(slot))
        case BPF_FUNC_jiffies64.rawValue, BPF_FUNC_get_smp_processor_id.rawValue, BPF_FUNC_loop.rawValue,
            UInt32(BP_KFUNC_CAST_TO_KERN_CTX):
            return true
        default:
            return false
        }
    }

    // MARK: the table

    var total: Double { perPacket.values.reduce(0, +) }
    var inlined: Double { perPacket.filter { Self.isInlined($0.key) }.values.reduce(0, +) }

    /// "map_lookup_elem(hash) 3, skb_store_bytes 1, jiffies64* 1": the most called first,
    /// those inlined marked *.
    var described: String {
        perPacket.map { (name: Self.name($0.key) + (Self.isInlined($0.key) ? "*" : ""), calls: $0.value) }
            .sorted { $0.calls != $1.calls ? $0.calls > $1.calls : $0.name < $1.name }
            .map { "\($0.name) \(Self.format($0.calls))" }.joined(separator: ", ")
    }

    /// Calls per packet: whole where they are (to two decimals), "<0.01" for a call that few
    /// packets make (the clock, read once per jiffy).
    static func format(_ calls: Double) -> String {
        if calls == 0 { return "0" }
        let hundredths = (calls * 100).rounded()
        if hundredths == 0 { return "<0.01" }
        return hundredths.truncatingRemainder(dividingBy: 100) == 0
            ? String(Int(hundredths / 100)) : String(format: "%.2f", hundredths / 100)
    }

    /// The table of rows (program, scenario, calls), with its footnote.
    static func render(_ rows: [(program: String, scenario: String, calls: HelperCalls)]) -> String {
        var lines = [
            "| program | scenario | helper calls/packet | of which inlined* | helpers per packet |",
            "|---|---|---:|---:|---|",
        ]
        for row in rows {
            lines.append(
                "| \(row.program) | \(row.scenario) | \(format(row.calls.total)) | \(format(row.calls.inlined)) "
                    + "| \(row.calls.described) |")
        }
        lines += [
            "",
            "\\* inlined by the verifier (with the JIT, Linux 6.10 and later): no call is left of lookups of "
                + "arrays and per-CPU arrays, jiffies64, get_smp_processor_id, loop (its callback is called "
                + "directly) and the kfunc cast_to_kern_ctx. A lookup of another map is a direct call of the map's "
                + "own lookup; map types in parentheses.",
            "",
        ]
        return lines.joined(separator: "\n")
    }
}
