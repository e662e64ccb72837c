import Glibc

/// Every failure of the BPF layer, with a message a user can act on.
/// `errno` values are positive; `log` is what libbpf printed meanwhile (for a
/// verifier rejection: the verifier's log).
public enum BPFError: Error, CustomStringConvertible, Equatable {
    /// Not root / no CAP_BPF+CAP_NET_ADMIN / locked down.
    case permissionDenied(operation: String, errno: Int32)
    /// bpffs could not be mounted or a pin path is not on bpffs.
    case filesystem(path: String, operation: String, errno: Int32)
    /// The object file is missing or is not a valid BPF ELF object.
    case openFailed(path: String, errno: Int32, log: String)
    /// The verifier (or the kernel) rejected a program.
    case programRejected(object: String, program: String, errno: Int32, log: String)
    /// A pinned map exists under the pin root with another layout.
    case pinnedMapIncompatible(object: String, map: String, pinRoot: String, log: String)
    /// Loading failed for another reason (map creation, BTF, relocation…).
    case loadFailed(object: String, errno: Int32, log: String)
    case programNotFound(object: String, program: String, available: [String])
    case mapNotFound(object: String, map: String, available: [String])
    /// The Swift type does not have the size of the map's key or value.
    case layoutMismatch(map: String, what: String, expected: Int, actual: Int)
    /// A per-CPU call on a plain map or the reverse.
    case wrongMapKind(map: String, perCPU: Bool)
    /// The kernel lacks something we need (e.g. tcx links before Linux 6.6).
    case unsupported(feature: String, errno: Int32, hint: String)
    case attachFailed(program: String, ifindex: UInt32, hook: String, errno: Int32)
    case detachFailed(what: String, errno: Int32)
    case pinFailed(path: String, errno: Int32)
    case mapOperation(map: String, operation: String, errno: Int32)
    case testRunFailed(program: String, errno: Int32)

    public var description: String {
        switch self {
        case .permissionDenied(let operation, let err):
            return
                "\(operation): \(strerr(err)) — run as root (needs CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN for mounts)"
        case .filesystem(let path, let operation, let err):
            return "\(operation) \(path): \(strerr(err))"
        case .openFailed(let path, let err, let log):
            return "cannot open BPF object \(path): \(strerr(err)) — build it with `make bpf`" + tail(log)
        case .programRejected(let object, let program, let err, let log):
            return "the kernel rejected program '\(program)' of \(object): \(strerr(err))" + tail(log)
        case .pinnedMapIncompatible(let object, let map, let pinRoot, let log):
            return "map '\(map)' pinned under \(pinRoot) does not match \(object) (its layout changed); "
                + "remove \(pinRoot)/\(map) to recreate it (this resets its contents)" + tail(log)
        case .loadFailed(let object, let err, let log):
            return "cannot load BPF object \(object): \(strerr(err))" + tail(log)
        case .programNotFound(let object, let program, let available):
            return "no program '\(program)' in \(object) (has: \(available.joined(separator: ", ")))"
        case .mapNotFound(let object, let map, let available):
            return "no map '\(map)' in \(object) (has: \(available.joined(separator: ", ")))"
        case .layoutMismatch(let map, let what, let expected, let actual):
            return
                "map '\(map)': \(what) is \(expected) bytes in the kernel but \(actual) in Swift — rebuild with the same bpf/bridgeport.h"
        case .wrongMapKind(let map, let perCPU):
            return perCPU
                ? "map '\(map)' is per-CPU: read it with lookupPerCPU/perCPUEntries or BPFPerCPUHashMap"
                : "map '\(map)' is not per-CPU: read it with lookup/entries or BPFHashMap"
        case .unsupported(let feature, let err, let hint):
            return "\(feature) not supported by this kernel (\(strerr(err))); \(hint)"
        case .attachFailed(let program, let ifindex, let hook, let err):
            return "cannot attach '\(program)' to ifindex \(ifindex) (\(hook)): \(strerr(err))"
                + (err == ENODEV ? " — no such interface in this network namespace" : "")
        case .detachFailed(let what, let err):
            return "cannot detach \(what): \(strerr(err))"
        case .pinFailed(let path, let err):
            return "cannot pin at \(path): \(strerr(err))"
                + (err == EEXIST ? " — something is already pinned there" : "")
                + (err == EPERM || err == EINVAL ? " — is the directory on bpffs?" : "")
        case .mapOperation(let map, let operation, let err):
            return "map '\(map)': \(operation) failed: \(strerr(err))" + (err == E2BIG ? " — map is full" : "")
        case .testRunFailed(let program, let err):
            return "test run of '\(program)' failed: \(strerr(err))"
        }
    }

    /// The errno, if the error carries one.
    public var errno: Int32? {
        switch self {
        case .permissionDenied(_, let e), .filesystem(_, _, let e), .openFailed(_, let e, _),
            .programRejected(_, _, let e, _), .loadFailed(_, let e, _), .unsupported(_, let e, _),
            .attachFailed(_, _, _, let e), .detachFailed(_, let e), .pinFailed(_, let e),
            .mapOperation(_, _, let e), .testRunFailed(_, let e):
            return e
        default:
            return nil
        }
    }
}

func strerr(_ err: Int32) -> String {
    String(cString: strerror(err)) + " (errno \(err))"
}

/// The last lines of a libbpf log, indented, for an error message.
private func tail(_ log: String, lines: Int = 40) -> String {
    let all = log.split(separator: "\n", omittingEmptySubsequences: true)
    if all.isEmpty { return "" }
    let kept = all.suffix(lines)
    let skipped = all.count - kept.count
    return "\n  libbpf:" + (skipped > 0 ? " (\(skipped) earlier lines omitted)" : "") + "\n"
        + kept.map { "    " + $0 }.joined(separator: "\n")
}

/// errno from a libbpf-style return value (negative errno) or from `errno`.
@inline(__always)
func errnoOf(_ ret: Int32) -> Int32 {
    ret < 0 && ret != -1 ? -ret : Glibc.errno
}
