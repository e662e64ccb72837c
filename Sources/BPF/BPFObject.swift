import CBPF
import Glibc
import Synchronization

/// A BPF ELF object (e.g. build/bpf/endpoint.bpf.o): open, load, find programs and maps.
///
/// Maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` are pinned at
/// `<pinRoot>/<map name>` on load, or reused from there if already pinned (that
/// is how counters survive agent restarts). `pinRoot` must be on bpffs: call
/// `BPFFilesystem.ensureMounted(at:)` first.
///
/// Programs and maps handed out keep the object alive; closing the object (when
/// the last reference goes) unloads programs that nothing else holds (a pinned
/// or attached link holds its program).
// @unchecked: libbpf's object changes only before and during load(), which its one owner
// calls before sharing it; after that it is only read.
public final class BPFObject: @unchecked Sendable {
    public let path: String
    public let pinRoot: String?
    public private(set) var isLoaded = false
    /// What libbpf printed while opening and loading (warnings, e.g. about features it skipped).
    public private(set) var log = ""
    let handle: OpaquePointer

    /// Opens and loads `path`.
    public static func load(_ path: String, pinRoot: String?) throws -> BPFObject {
        let object = try BPFObject(path: path, pinRoot: pinRoot)
        try object.load()
        return object
    }

    /// True when this binary carries the BPF objects.
    public static var hasEmbeddedObjects: Bool { cbpf_has_embedded_objects() == 1 }

    /// Opens `path` without loading it (to inspect or adjust it before `load()`); a path
    /// "embedded:NAME" opens the object embedded in the binary.
    public init(path: String, pinRoot: String?) throws {
        self.path = path
        self.pinRoot = pinRoot
        let (handle, log): (OpaquePointer?, String) = LibBPFLog.capturing {
            path.hasPrefix("embedded:")
                ? cbpf_object_open_embedded(String(path.dropFirst(9)), pinRoot)
                : cbpf_object_open(path, pinRoot)
        }
        self.log = log
        guard let handle else {
            let err = Glibc.errno
            if !path.hasPrefix("embedded:") && access(path, R_OK) != 0 {
                throw BPFError.openFailed(path: path, errno: ENOENT, log: log)
            }
            throw BPFError.openFailed(path: path, errno: err, log: log)
        }
        self.handle = handle
    }

    deinit {
        bpf_object__close(handle)
    }

    /// Creates (or reuses pinned) maps and loads every program into the kernel.
    public func load() throws {
        guard !isLoaded else { return }
        let (ret, log) = LibBPFLog.capturing { bpf_object__load(handle) }
        self.log += log
        if ret == 0 {
            isLoaded = true
            return
        }
        let err = errnoOf(ret)
        if let program = LibBPFLog.failedProgram(in: log) {
            throw BPFError.programRejected(object: path, program: program, errno: err, log: log)
        }
        if let map = LibBPFLog.incompatiblePinnedMap(in: log) {
            throw BPFError.pinnedMapIncompatible(object: path, map: map, pinRoot: pinRoot ?? "(none)", log: log)
        }
        if err == EPERM || err == EACCES {
            throw BPFError.permissionDenied(operation: "load \(path)", errno: err)
        }
        throw BPFError.loadFailed(object: path, errno: err, log: log)
    }

    /// Sets a map's capacity; before `load()`.
    public func setMaxEntries(_ name: String, _ entries: UInt32) throws {
        guard let m = bpf_object__find_map_by_name(handle, name) else {
            throw BPFError.mapNotFound(object: path, map: name, available: mapNames)
        }
        let ret = bpf_map__set_max_entries(m, entries)
        if ret != 0 { throw BPFError.mapOperation(map: name, operation: "set max_entries", errno: errnoOf(ret)) }
    }

    /// Before `load()`: removes the pin of map `name` under the pin root when its type,
    /// layout, size or flags differ from this object's, so that `load()` creates it anew
    /// instead of failing. Only for maps whose content can be lost (flows rebuild
    /// themselves; counters must never be dropped this way). Returns the pinned map's
    /// max_entries when it removed one.
    public func removeIncompatiblePin(_ name: String) throws -> UInt32? {
        guard let pinRoot else { return nil }
        guard let m = bpf_object__find_map_by_name(handle, name) else {
            throw BPFError.mapNotFound(object: path, map: name, available: mapNames)
        }
        let pin = pinRoot + "/" + name
        let fd = bpf_obj_get(pin)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = bpf_map_info()
        var len = UInt32(MemoryLayout<bpf_map_info>.size)
        guard bpf_obj_get_info_by_fd(fd, &info, &len) == 0 else {
            throw BPFError.mapOperation(map: pin, operation: "get info", errno: Glibc.errno)
        }
        if info.type == bpf_map__type(m).rawValue && info.key_size == bpf_map__key_size(m)
            && info.value_size == bpf_map__value_size(m) && info.max_entries == bpf_map__max_entries(m)
            && info.map_flags == bpf_map__map_flags(m)
        {
            return nil
        }
        if unlink(pin) != 0 { throw BPFError.filesystem(path: pin, operation: "unlink", errno: Glibc.errno) }
        return info.max_entries
    }

    public var programNames: [String] { names({ bpf_object__next_program($0, $1) }, { bpf_program__name($0) }) }
    public var mapNames: [String] { names({ bpf_object__next_map($0, $1) }, { bpf_map__name($0) }) }

    /// The names of the object's programs or maps, walked with libbpf's `next` function.
    private func names(
        _ next: (OpaquePointer, OpaquePointer?) -> OpaquePointer?,
        _ name: (OpaquePointer) -> UnsafePointer<CChar>?
    ) -> [String] {
        var names: [String] = []
        var item = next(handle, nil)
        while let current = item {
            names.append(name(current).map { String(cString: $0) } ?? "")
            item = next(handle, current)
        }
        return names
    }

    /// A loaded program by its function name (e.g. `BP_PROG_ENDPOINT_INGRESS`).
    public func program(_ name: String) throws -> BPFProgram {
        guard let p = bpf_object__find_program_by_name(handle, name) else {
            throw BPFError.programNotFound(object: path, program: name, available: programNames)
        }
        let fd = bpf_program__fd(p)
        guard fd >= 0 else {
            throw BPFError.loadFailed(
                object: path, errno: EBADF, log: "program '\(name)' is not loaded: call load() first")
        }
        return BPFProgram(name: name, fd: fd, object: self)
    }

    /// A created map by name (e.g. `BP_MAP_ENDPOINT_STATS`).
    public func map(_ name: String) throws -> BPFMap {
        guard let m = bpf_object__find_map_by_name(handle, name) else {
            throw BPFError.mapNotFound(object: path, map: name, available: mapNames)
        }
        let fd = bpf_map__fd(m)
        guard fd >= 0 else {
            throw BPFError.loadFailed(
                object: path, errno: EBADF, log: "map '\(name)' is not created: call load() first")
        }
        return try BPFMap(name: name, fd: fd, owner: self, ownsFD: false)
    }
}

/// A program of a loaded `BPFObject`.
/// The kernel's per-program run statistics, on while the returned descriptor is open
/// (BPF_ENABLE_STATS: no global sysctl is changed, and they stop with the process).
public enum BPFStatistics {
    public static func enable() throws -> Int32 {
        let fd = bpf_enable_stats(BPF_STATS_RUN_TIME)
        if fd < 0 { throw BPFError.permissionDenied(operation: "enable BPF run-time statistics", errno: errnoOf(fd)) }
        return fd
    }
}

public struct BPFProgram: Sendable {
    public let name: String
    /// Owned by the object; valid while the program value (and so the object) lives.
    public let fd: Int32
    public let object: BPFObject

    /// How often the kernel ran the program and for how long in all (nanoseconds);
    /// counted only while run-time statistics are on (`BPFStatistics.enable()`).
    public var runStatistics: (runs: UInt64, nanoseconds: UInt64) {
        var info = bpf_prog_info()
        var len = UInt32(MemoryLayout<bpf_prog_info>.size)
        return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? (info.run_cnt, info.run_time_ns) : (0, 0)
    }

    /// The kernel's id of the program (as in `bpftool prog show id N`).
    public var id: UInt32 {
        var info = bpf_prog_info()
        var len = UInt32(MemoryLayout<bpf_prog_info>.size)
        return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0
    }

    /// Runs a tc program once (BPF_PROG_TEST_RUN) on `packet` (starting with the
    /// Ethernet header) as if it arrived on `ifindex` (must exist in the calling
    /// thread's network namespace; 0 = loopback). Returns the verdict, e.g. -1 = TCX_NEXT.
    /// The program's map updates are real.
    public func testRun(packet: [UInt8], ifindex: UInt32 = 0) throws -> Int32 {
        var retval: UInt32 = 0
        let ret = packet.withUnsafeBytes { buf in
            cbpf_test_run_skb(fd, buf.baseAddress, UInt32(buf.count), ifindex, &retval)
        }
        if ret < 0 { throw BPFError.testRunFailed(program: name, errno: -ret) }
        return Int32(bitPattern: retval)
    }
}

/// libbpf's messages, captured into a buffer around each call (loads are serialized).
enum LibBPFLog {
    /// Whether the capturing print function is installed yet.
    private static let installed = Mutex(false)

    /// Runs `body` and returns what libbpf printed meanwhile.
    /// Set BRIDGEPORT_LIBBPF_DEBUG=1 to also keep debug messages and echo everything to stderr.
    static func capturing<T>(_ body: () -> T) -> (T, String) {
        installed.withLock { installed in
            if !installed {
                let debug = getenv("BRIDGEPORT_LIBBPF_DEBUG").map { String(cString: $0) == "1" } ?? false
                cbpf_log_capture(debug ? 1 : 0, debug ? 1 : 0)
                installed = true
            }
            cbpf_log_clear()
            let result = body()
            let savedErrno = Glibc.errno
            var text = ""
            if let raw = cbpf_log_take() {
                text = String(cString: raw)
                free(raw)
            }
            Glibc.errno = savedErrno
            return (result, text)
        }
    }

    /// "libbpf: prog 'NAME': BPF program load failed: ..." / "prog 'NAME': failed to load: -13"
    static func failedProgram(in log: String) -> String? {
        for line in log.split(separator: "\n")
        where
            line.contains("load failed") || line.contains("failed to load")
        {
            if let name = quoted(after: "prog '", in: line) { return name }
        }
        return nil
    }

    /// "libbpf: map 'NAME': error reusing pinned map"
    static func incompatiblePinnedMap(in log: String) -> String? {
        for line in log.split(separator: "\n") where line.contains("reusing pinned map") {
            if let name = quoted(after: "map '", in: line) { return name }
        }
        return nil
    }

    private static func quoted(after prefix: String, in line: Substring) -> String? {
        guard let start = line.firstRange(of: prefix)?.upperBound,
            let end = line[start...].firstIndex(of: "'")
        else { return nil }
        return String(line[start..<end])
    }
}
