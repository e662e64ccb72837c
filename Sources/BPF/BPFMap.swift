import CBPF
import Glibc

/// A BPF map, accessed with fixed-size Swift values whose layout matches the
/// map's key and value (the structs of bridgeport.h, UInt32, UInt64…). Sizes are
/// checked on every call.
///
/// Per-CPU maps (PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH) hold one value per
/// possible CPU: use `lookupPerCPU` / `perCPUEntries`, or `BPFPerCPUHashMap` for sums.
public final class BPFMap: Sendable {
    public let name: String
    public let fd: Int32
    public let id: UInt32
    public let type: bpf_map_type
    public let keySize: Int
    public let valueSize: Int
    public let maxEntries: UInt32
    private let owner: BPFObject?
    private let ownsFD: Bool

    init(name: String, fd: Int32, owner: BPFObject?, ownsFD: Bool) throws {
        var info = bpf_map_info()
        var len = UInt32(MemoryLayout<bpf_map_info>.size)
        if bpf_obj_get_info_by_fd(fd, &info, &len) != 0 {
            let err = Glibc.errno
            if ownsFD { close(fd) }
            throw BPFError.mapOperation(map: name, operation: "get info", errno: err)
        }
        self.name = name
        self.fd = fd
        self.id = info.id
        self.type = bpf_map_type(rawValue: info.type)
        self.keySize = Int(info.key_size)
        self.valueSize = Int(info.value_size)
        self.maxEntries = info.max_entries
        self.owner = owner
        self.ownsFD = ownsFD
    }

    /// Creates an anonymous map (benchmarks and tests; the agent's maps come from objects).
    public static func create(
        name: String, type: bpf_map_type, keySize: Int, valueSize: Int, maxEntries: UInt32
    ) throws -> BPFMap {
        let fd = bpf_map_create(type, name, UInt32(keySize), UInt32(valueSize), maxEntries, nil)
        if fd < 0 { throw BPFError.mapOperation(map: name, operation: "create", errno: errnoOf(fd)) }
        return try BPFMap(name: name, fd: fd, owner: nil, ownsFD: true)
    }

    /// Opens a pinned map (e.g. `<pinRoot>/bp_ep_stats`) without loading any object:
    /// what a metrics exporter or a CLI needs.
    public static func openPinned(_ path: String) throws -> BPFMap {
        let fd = bpf_obj_get(path)
        if fd < 0 {
            let err = errnoOf(fd)
            if err == EPERM || err == EACCES {
                throw BPFError.permissionDenied(operation: "open pinned map \(path)", errno: err)
            }
            throw BPFError.mapOperation(map: path, operation: "open pinned", errno: err)
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return try BPFMap(name: name, fd: fd, owner: nil, ownsFD: true)
    }

    deinit {
        if ownsFD { close(fd) }
    }

    /// Pins the map at `path` (on bpffs).
    public func pin(at path: String) throws {
        if bpf_obj_pin(fd, path) != 0 { throw BPFError.pinFailed(path: path, errno: Glibc.errno) }
    }

    public var isPerCPU: Bool {
        type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_LRU_PERCPU_HASH
            || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
    }

    /// Number of possible CPUs: the number of values in a per-CPU map entry.
    public static let possibleCPUs: Int = Int(libbpf_num_possible_cpus())

    /// Bytes of one per-CPU slot (the kernel rounds each value up to 8 bytes).
    public var perCPUStride: Int { (valueSize + 7) & ~7 }
    /// Bytes of one element's value as the syscalls copy it.
    var valueBufferSize: Int { isPerCPU ? perCPUStride * BPFMap.possibleCPUs : valueSize }

    public enum UpdateFlags: UInt64, Sendable {
        case any = 0  // BPF_ANY: create or replace
        case noExist = 1  // BPF_NOEXIST: create only
        case exist = 2  // BPF_EXIST: replace only
    }

    // MARK: single elements

    /// The value for `key`, or nil if absent. Not for per-CPU maps.
    public func lookup<K: BitwiseCopyable, V: BitwiseCopyable>(_ key: K, as _: V.Type = V.self) throws -> V? {
        try check(key: K.self, value: V.self, perCPU: false)
        var k = key
        var v = zeroed(V.self)
        if bpf_map_lookup_elem(fd, &k, &v) != 0 {
            let err = Glibc.errno
            if err == ENOENT { return nil }
            throw BPFError.mapOperation(map: name, operation: "lookup", errno: err)
        }
        return v
    }

    /// One value per possible CPU for `key`, or nil if absent. Per-CPU maps only.
    public func lookupPerCPU<K: BitwiseCopyable, V: BitwiseCopyable>(_ key: K, as _: V.Type = V.self) throws -> [V]? {
        try check(key: K.self, value: V.self, perCPU: true)
        var k = key
        var buffer = [UInt8](repeating: 0, count: valueBufferSize)
        let ret = buffer.withUnsafeMutableBytes { bpf_map_lookup_elem(fd, &k, $0.baseAddress) }
        if ret != 0 {
            let err = Glibc.errno
            if err == ENOENT { return nil }
            throw BPFError.mapOperation(map: name, operation: "lookup", errno: err)
        }
        return buffer.withUnsafeBytes { perCPUValues(V.self, from: $0, at: 0) }
    }

    /// Creates or replaces `key`. For a per-CPU map every CPU's slot gets `value`.
    public func update<K: BitwiseCopyable, V: BitwiseCopyable>(_ key: K, _ value: V, flags: UpdateFlags = .any) throws {
        if isPerCPU {
            try updatePerCPU(key, [V](repeating: value, count: BPFMap.possibleCPUs), flags: flags)
            return
        }
        try check(key: K.self, value: V.self, perCPU: false)
        var k = key
        var v = value
        if bpf_map_update_elem(fd, &k, &v, flags.rawValue) != 0 {
            throw BPFError.mapOperation(map: name, operation: "update", errno: Glibc.errno)
        }
    }

    /// Sets each CPU's slot of a per-CPU map (`values.count == possibleCPUs`).
    public func updatePerCPU<K: BitwiseCopyable, V: BitwiseCopyable>(
        _ key: K, _ values: [V], flags: UpdateFlags = .any
    ) throws {
        try check(key: K.self, value: V.self, perCPU: true)
        guard values.count == BPFMap.possibleCPUs else {
            throw BPFError.layoutMismatch(
                map: name, what: "number of per-CPU values", expected: BPFMap.possibleCPUs, actual: values.count)
        }
        var k = key
        var buffer = [UInt8](repeating: 0, count: valueBufferSize)
        buffer.withUnsafeMutableBytes { raw in
            for (cpu, value) in values.enumerated() {
                withUnsafeBytes(of: value) { src in
                    raw.baseAddress!.advanced(by: cpu * perCPUStride).copyMemory(
                        from: src.baseAddress!, byteCount: valueSize)
                }
            }
        }
        let ret = buffer.withUnsafeBytes { bpf_map_update_elem(fd, &k, $0.baseAddress, flags.rawValue) }
        if ret != 0 { throw BPFError.mapOperation(map: name, operation: "update", errno: Glibc.errno) }
    }

    /// Takes `key`'s value out of the map atomically (BPF_MAP_LOOKUP_AND_DELETE_ELEM);
    /// nil if it was absent. Not for per-CPU maps.
    public func lookupAndDelete<K: BitwiseCopyable, V: BitwiseCopyable>(_ key: K, as _: V.Type = V.self) throws -> V? {
        try check(key: K.self, value: V.self, perCPU: false)
        var k = key
        var v = zeroed(V.self)
        if bpf_map_lookup_and_delete_elem(fd, &k, &v) != 0 {
            let err = Glibc.errno
            if err == ENOENT { return nil }
            throw BPFError.mapOperation(map: name, operation: "lookup and delete", errno: err)
        }
        return v
    }

    /// Deletes `key`; false if it was absent.
    @discardableResult
    public func delete<K: BitwiseCopyable>(_ key: K) throws -> Bool {
        try check(key: K.self)
        var k = key
        if bpf_map_delete_elem(fd, &k) != 0 {
            let err = Glibc.errno
            if err == ENOENT { return false }
            throw BPFError.mapOperation(map: name, operation: "delete", errno: err)
        }
        return true
    }

    /// All keys (BPF_MAP_GET_NEXT_KEY walk; a concurrent delete may restart it).
    public func keys<K: BitwiseCopyable>(as _: K.Type = K.self) throws -> [K] {
        try check(key: K.self)
        return try rawKeys().withUnsafeBytes { raw in
            stride(from: 0, to: raw.count, by: keySize).map { raw.loadUnaligned(fromByteOffset: $0, as: K.self) }
        }
    }

    // MARK: whole map

    /// Every (key, value). Uses BPF_MAP_LOOKUP_BATCH, or a key walk where the kernel
    /// or map type has no batch support. Not for per-CPU maps.
    public func entries<K: BitwiseCopyable, V: BitwiseCopyable>(
        as _: (K.Type, V.Type) = (K.self, V.self)
    ) throws -> [(key: K, value: V)] {
        try check(key: K.self, value: V.self, perCPU: false)
        return try rawEntries(K.self) { raw, offset in raw.loadUnaligned(fromByteOffset: offset, as: V.self) }
    }

    /// Every (key, one value per CPU) of a per-CPU map, batched where possible.
    public func perCPUEntries<K: BitwiseCopyable, V: BitwiseCopyable>(
        as _: (K.Type, V.Type) = (K.self, V.self)
    ) throws -> [(key: K, values: [V])] {
        try check(key: K.self, value: V.self, perCPU: true)
        return try rawEntries(K.self) { raw, offset in perCPUValues(V.self, from: raw, at: offset) }
            .map { (key: $0.key, values: $0.value) }
    }

    private func rawEntries<K: BitwiseCopyable, T>(
        _: K.Type, decode: (UnsafeRawBufferPointer, Int) -> T
    ) throws -> [(key: K, value: T)] {
        var result: [(key: K, value: T)] = []
        try rawBatches(K.self, decode: decode) { result += $0 }
        return result
    }

    /// Every (key, value) in chunks of about `chunk`, so that a large map is never held at
    /// once: BPF_MAP_LOOKUP_BATCH, or a key walk where batches are not supported (one chunk).
    /// A map changed meanwhile may show an entry twice or not at all. Not for per-CPU maps.
    public func forEachBatch<K: BitwiseCopyable, V: BitwiseCopyable>(
        _: K.Type, _: V.Type, chunk: Int = 4096,
        _ body: ([(key: K, value: V)]) throws -> Void
    ) throws {
        try check(key: K.self, value: V.self, perCPU: false)
        try rawBatches(
            K.self, chunk: chunk, decode: { raw, offset in raw.loadUnaligned(fromByteOffset: offset, as: V.self) }, body
        )
    }

    private func rawBatches<K: BitwiseCopyable, T>(
        _: K.Type, chunk: Int = 256, decode: (UnsafeRawBufferPointer, Int) -> T,
        _ body: ([(key: K, value: T)]) throws -> Void
    ) throws {
        try forEachRawBatch(chunk: chunk, limit: Int.max) { keys, values, count in
            var batch: [(key: K, value: T)] = []
            batch.reserveCapacity(count)
            for i in 0..<count {
                let key = keys.loadUnaligned(fromByteOffset: i * keySize, as: K.self)
                batch.append((key: key, value: decode(values, i * valueBufferSize)))
            }
            if !batch.isEmpty { try body(batch) }
        }
    }

    /// Every entry's key and value bytes as the syscalls copy them (a per-CPU value is
    /// `perCPUStride` bytes per possible CPU), one at a time, straight from the batch
    /// buffers: nothing is allocated per entry. Batched where supported, else a key walk.
    /// A map changed meanwhile may show an entry twice or not at all.
    /// `limit`: stop after about that many entries, where batches are read (an array's are in
    /// index order: its first `limit` elements).
    public func forEachRawEntry(
        limit: Int? = nil, _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void
    ) throws {
        // Batches of up to 1 MiB of values: few system calls, a bounded buffer.
        let chunk = max(1, min(max(256, (1 << 20) / max(valueBufferSize, 1)), Int(maxEntries), limit ?? Int.max))
        try forEachRawBatch(chunk: chunk, limit: limit ?? Int.max) { keys, values, count in
            for i in 0..<count {
                try body(
                    UnsafeRawBufferPointer(rebasing: keys[(i * keySize)..<((i + 1) * keySize)]),
                    UnsafeRawBufferPointer(
                        rebasing: values[(i * valueBufferSize)..<((i + 1) * valueBufferSize)]))
            }
        }
    }

    /// Batches of `count` keys and values, packed (keySize and valueBufferSize apart):
    /// BPF_MAP_LOOKUP_BATCH, or a key walk where batches are not supported (one batch).
    private func forEachRawBatch(
        chunk: Int, limit: Int, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, Int) throws -> Void
    ) throws {
        if try batchEntries(chunk: chunk, limit: limit, body) { return }
        var keys = try rawKeys()
        var values = [UInt8](repeating: 0, count: valueBufferSize * keys.count / max(keySize, 1))
        var found = 0
        try keys.withUnsafeMutableBytes { keyBytes in
            try values.withUnsafeMutableBytes { valueBytes in
                for start in stride(from: 0, to: keyBytes.count, by: keySize) {
                    let key = keyBytes.baseAddress! + start
                    let ret = bpf_map_lookup_elem(fd, key, valueBytes.baseAddress! + found * valueBufferSize)
                    if ret != 0 {
                        let err = Glibc.errno
                        if err == ENOENT { continue }  // deleted meanwhile
                        throw BPFError.mapOperation(map: name, operation: "lookup", errno: err)
                    }
                    // The entries found are packed: a key moves down over those deleted meanwhile.
                    if found * keySize != start {
                        (keyBytes.baseAddress! + found * keySize).copyMemory(from: key, byteCount: keySize)
                    }
                    found += 1
                }
            }
        }
        try keys.withUnsafeBytes { k in try values.withUnsafeBytes { v in try body(k, v, found) } }
    }

    /// Every key's bytes, packed (BPF_MAP_GET_NEXT_KEY walk; a concurrent delete may restart it).
    private func rawKeys() throws -> [UInt8] {
        var result: [UInt8] = []
        var current = [UInt8](repeating: 0, count: keySize)
        var next = [UInt8](repeating: 0, count: keySize)
        var ret = bpf_map_get_next_key(fd, nil, &next)
        while ret == 0 {
            result += next
            if result.count > Int(maxEntries) * 2 * keySize { return result }  // a walk that keeps restarting
            swap(&current, &next)
            ret = bpf_map_get_next_key(fd, &current, &next)
        }
        let err = errnoOf(ret)
        if err != ENOENT { throw BPFError.mapOperation(map: name, operation: "iterate keys", errno: err) }
        return result
    }

    /// false if batch lookups are not supported for this map (then the caller walks keys).
    private func batchEntries(
        chunk initialChunk: Int, limit: Int,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, Int) throws -> Void
    ) throws -> Bool {
        var read = 0
        var chunk = initialChunk
        // Batch token: a u32 bucket for hash maps, a key for arrays.
        var inToken = [UInt8](repeating: 0, count: max(keySize, 8))
        var outToken = [UInt8](repeating: 0, count: max(keySize, 8))
        var first = true
        var done = false
        var keysBuf: [UInt8] = []
        var valuesBuf: [UInt8] = []
        while !done {
            if keysBuf.count != chunk * keySize {
                keysBuf = [UInt8](repeating: 0, count: chunk * keySize)
                valuesBuf = [UInt8](repeating: 0, count: chunk * valueBufferSize)
            }
            var count = UInt32(chunk)
            let ret: Int32 = inToken.withUnsafeMutableBytes { inPtr in
                outToken.withUnsafeMutableBytes { outPtr in
                    keysBuf.withUnsafeMutableBytes { kp in
                        valuesBuf.withUnsafeMutableBytes { vp in
                            bpf_map_lookup_batch(
                                fd, first ? nil : inPtr.baseAddress, outPtr.baseAddress,
                                kp.baseAddress, vp.baseAddress, &count, nil)
                        }
                    }
                }
            }
            let err: Int32 = ret == 0 ? 0 : errnoOf(ret)
            if ret != 0 && err != ENOENT {
                if err == ENOSPC && count == 0 && chunk < Int(maxEntries) * 2 {
                    chunk *= 4
                    continue
                }  // a bucket larger than chunk
                if first && (err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP || err == ENOTTY) { return false }
                throw BPFError.mapOperation(map: name, operation: "batch lookup", errno: err)
            }
            if count > 0 {
                try keysBuf.withUnsafeBytes { keys in
                    try valuesBuf.withUnsafeBytes { values in try body(keys, values, Int(count)) }
                }
            }
            read += Int(count)
            done = err == ENOENT || read >= limit
            first = false
            swap(&inToken, &outToken)
        }
        return true
    }

    /// Creates or replaces these entries in one BPF_MAP_UPDATE_BATCH (not for per-CPU maps).
    public func updateBatch<K: BitwiseCopyable, V: BitwiseCopyable>(_ keys: [K], _ values: [V]) throws {
        try check(key: K.self, value: V.self, perCPU: false)
        precondition(
            keys.count == values.count && MemoryLayout<K>.stride == keySize && MemoryLayout<V>.stride == valueSize,
            "updateBatch: one value per key, of the map's sizes")
        var count = UInt32(keys.count)
        let ret = keys.withUnsafeBytes { k in
            values.withUnsafeBytes { v in bpf_map_update_batch(fd, k.baseAddress, v.baseAddress, &count, nil) }
        }
        if ret != 0 { throw BPFError.mapOperation(map: name, operation: "batch update", errno: errnoOf(ret)) }
    }

    /// Sets these keys' values to zero (every CPU's, in a per-CPU map) in one
    /// BPF_MAP_UPDATE_BATCH: for arrays, whose elements always exist.
    public func zeroBatch<K: BitwiseCopyable>(_ keys: [K]) throws {
        try check(key: K.self)
        guard !keys.isEmpty else { return }
        precondition(MemoryLayout<K>.stride == keySize, "zeroBatch: keys of the map's size")
        var count = UInt32(keys.count)
        let zeros = [UInt8](repeating: 0, count: keys.count * valueBufferSize)
        let ret = keys.withUnsafeBytes { k in
            zeros.withUnsafeBytes { v in bpf_map_update_batch(fd, k.baseAddress, v.baseAddress, &count, nil) }
        }
        if ret != 0 { throw BPFError.mapOperation(map: name, operation: "batch zero", errno: errnoOf(ret)) }
    }

    /// Deletes these keys (BPF_MAP_DELETE_BATCH, one key at a time where unsupported);
    /// keys already gone are skipped. Returns how many were deleted.
    @discardableResult
    public func deleteBatch<K: BitwiseCopyable>(_ keys: [K]) throws -> Int {
        try check(key: K.self)
        guard MemoryLayout<K>.stride == keySize else {
            return try keys.reduce(0) { $0 + (try delete($1) ? 1 : 0) }
        }
        var deleted = 0
        var start = 0
        while start < keys.count {
            var count = UInt32(keys.count - start)
            let ret = keys.withUnsafeBytes { raw in
                bpf_map_delete_batch(fd, raw.baseAddress! + start * MemoryLayout<K>.stride, &count, nil)
            }
            if ret == 0 {
                deleted += Int(count)
                break
            }
            let err = errnoOf(ret)
            if err == ENOENT {  // the key at `count` was gone: go on after it
                deleted += Int(count)
                start += Int(count) + 1
                continue
            }
            // No batch deletes here (the kernel's ENOTSUPP is 524): one key at a time. The
            // kernel did not report a count then, so every key from `start` is tried.
            if err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP || err == 524 {
                for key in keys[start...] where try delete(key) { deleted += 1 }
                break
            }
            throw BPFError.mapOperation(map: name, operation: "batch delete", errno: err)
        }
        return deleted
    }

    // MARK: helpers

    private func perCPUValues<V: BitwiseCopyable>(_: V.Type, from raw: UnsafeRawBufferPointer, at offset: Int) -> [V] {
        (0..<BPFMap.possibleCPUs).map { cpu in
            raw.loadUnaligned(fromByteOffset: offset + cpu * perCPUStride, as: V.self)
        }
    }

    private func zeroed<T: BitwiseCopyable>(_: T.Type) -> T {
        withUnsafeTemporaryAllocation(byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment) { raw in
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            return raw.loadUnaligned(as: T.self)
        }
    }

    private func check<K>(key _: K.Type) throws {
        if MemoryLayout<K>.size != keySize {
            throw BPFError.layoutMismatch(map: name, what: "key", expected: keySize, actual: MemoryLayout<K>.size)
        }
    }

    /// Refuses a Swift key or value whose size, or per-CPU kind, differs from the map's.
    func check<K, V>(key: K.Type, value _: V.Type, perCPU: Bool) throws {
        try check(key: key)
        if MemoryLayout<V>.size != valueSize {
            throw BPFError.layoutMismatch(map: name, what: "value", expected: valueSize, actual: MemoryLayout<V>.size)
        }
        if perCPU != isPerCPU {
            throw BPFError.wrongMapKind(map: name, perCPU: isPerCPU)
        }
    }
}

// MARK: - typed views

/// A hash (or array) map with a fixed Swift key and value type, checked once.
public struct BPFHashMap<Key: BitwiseCopyable, Value: BitwiseCopyable>: Sendable {
    public let map: BPFMap

    public init(_ map: BPFMap) throws {
        self.map = map
        try map.check(key: Key.self, value: Value.self, perCPU: false)
    }

    public func lookup(_ key: Key) throws -> Value? { try map.lookup(key, as: Value.self) }
    public func update(_ key: Key, _ value: Value, flags: BPFMap.UpdateFlags = .any) throws {
        try map.update(key, value, flags: flags)
    }
    @discardableResult public func delete(_ key: Key) throws -> Bool { try map.delete(key) }
    public func keys() throws -> [Key] { try map.keys(as: Key.self) }
    public func entries() throws -> [(key: Key, value: Value)] { try map.entries(as: (Key.self, Value.self)) }
}

/// A value that per-CPU slots can be summed into (counters).
public protocol BPFCounterValue {
    static var zero: Self { get }
    static func &+ (lhs: Self, rhs: Self) -> Self
}

extension UInt64: BPFCounterValue {}

extension BPFCounterValue {
    public static func sum(_ values: [Self]) -> Self { values.reduce(.zero, &+) }
}

/// A per-CPU map of counters, read as sums over all CPUs.
public struct BPFPerCPUHashMap<Key: BitwiseCopyable, Value: BPFCounterValue & BitwiseCopyable>: Sendable {
    public let map: BPFMap

    public init(_ map: BPFMap) throws {
        self.map = map
        try map.check(key: Key.self, value: Value.self, perCPU: true)
    }

    /// Sum over CPUs, or nil if the key is absent.
    public func sum(_ key: Key) throws -> Value? {
        try map.lookupPerCPU(key, as: Value.self).map(Value.sum)
    }

    /// Sums over CPUs of every entry (one batched read where supported).
    public func sums() throws -> [(key: Key, value: Value)] {
        var result: [(key: Key, value: Value)] = []
        try forEachSum { result.append((key: $0, value: $1)) }
        return result
    }

    /// Each entry's key and sum over CPUs, summed straight from the batch buffers (no
    /// array per entry). Inlinable so that it is specialized for the key and value types.
    @inlinable
    public func forEachSum(_ body: (Key, Value) throws -> Void) throws {
        let stride = map.perCPUStride
        let cpus = BPFMap.possibleCPUs
        try map.forEachRawEntry { key, values in
            var sum = Value.zero
            for cpu in 0..<cpus { sum = sum &+ values.loadUnaligned(fromByteOffset: cpu * stride, as: Value.self) }
            try body(key.loadUnaligned(as: Key.self), sum)
        }
    }

    /// An array's first `count` elements summed over CPUs, by index (one batched read).
    public func sums(ofFirst count: Int) throws -> [Value] where Key == UInt32 {
        var result = [Value](repeating: .zero, count: count)
        guard count > 0 else { return result }
        let stride = map.perCPUStride
        let cpus = BPFMap.possibleCPUs
        try map.forEachRawEntry(limit: count) { key, values in
            let index = Int(key.loadUnaligned(as: UInt32.self))
            guard index < count else { return }
            var sum = Value.zero
            for cpu in 0..<cpus { sum = sum &+ values.loadUnaligned(fromByteOffset: cpu * stride, as: Value.self) }
            result[index] = sum
        }
        return result
    }

    /// The sums over CPUs of the array's elements that `slots` name, by their owners' keys:
    /// one batched read of the array up to the highest slot named (a slot past it: none).
    public func sums<Owner: Hashable>(bySlot slots: [Owner: UInt32]) throws -> [Owner: Value] where Key == UInt32 {
        let highest = slots.values.lazy.filter { $0 < self.map.maxEntries }.max()
        let bySlot = try sums(ofFirst: highest.map { Int($0) + 1 } ?? 0)
        return slots.compactMapValues { Int($0) < bySlot.count ? bySlot[Int($0)] : nil }
    }

    /// Sets these elements to zero on every CPU (one batch).
    public func zero(_ keys: [Key]) throws { try map.zeroBatch(keys) }

    /// Sums over CPUs by key (an entry seen twice while the map changes: its first sum).
    @inlinable
    public func sumsByKey() throws -> [Key: Value] where Key: Hashable {
        var result: [Key: Value] = [:]
        try forEachSum { key, sum in
            if result[key] == nil { result[key] = sum }
        }
        return result
    }

    public func perCPU(_ key: Key) throws -> [Value]? { try map.lookupPerCPU(key, as: Value.self) }
    @discardableResult public func delete(_ key: Key) throws -> Bool { try map.delete(key) }
    public func keys() throws -> [Key] { try map.keys(as: Key.self) }
}
