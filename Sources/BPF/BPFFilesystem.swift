import CBPF
import Glibc

/// bpffs: where programs, maps and links are pinned.
public enum BPFFilesystem {
    public enum MountResult: Equatable, Sendable {
        /// The path already was on a bpffs (itself or a parent mount); directories were created as needed.
        case alreadyMounted
        /// A new bpffs was mounted at the path; unmount it with `unmount(at:)` when done (tests).
        case mounted
    }

    /// True if `path` exists and lies on a bpffs.
    public static func isBPFFS(_ path: String) -> Bool {
        cbpf_is_bpffs(path) == 1
    }

    /// Where systemd and Cilium mount bpffs. It is a directory of sysfs, where nothing
    /// can be created: a path below it needs a bpffs mounted on it first.
    public static let conventionalMountPoint = "/sys/fs/bpf"

    /// Makes `path` a directory on bpffs, as Cilium does: if the nearest existing
    /// ancestor is on bpffs, just create the missing directories; below an unmounted
    /// /sys/fs/bpf (containers, hosts without systemd), mount bpffs there first;
    /// otherwise `mkdir -p` the path and mount a bpffs there (mode 0700).
    @discardableResult
    public static func ensureMounted(at path: String) throws -> MountResult {
        let path = normalize(path)
        if isBPFFS(path) { return .alreadyMounted }
        if path.hasPrefix(conventionalMountPoint + "/") && !isBPFFS(conventionalMountPoint) {
            try mountBPFFS(at: conventionalMountPoint)
            try makeDirectories(path)
            return .mounted
        }
        if let ancestor = nearestExistingAncestor(of: path), ancestor != path, isBPFFS(ancestor) {
            try makeDirectories(path)
            return .alreadyMounted
        }
        try makeDirectories(path)
        try mountBPFFS(at: path)
        return .mounted
    }

    private static func mountBPFFS(at path: String) throws {
        if mount("bpffs", path, "bpf", 0, "mode=0700") != 0 {
            let err = Glibc.errno
            if err == EPERM { throw BPFError.permissionDenied(operation: "mount bpffs at \(path)", errno: err) }
            throw BPFError.filesystem(path: path, operation: "mount bpffs at", errno: err)
        }
    }

    /// Unmounts a bpffs mounted by `ensureMounted` (pins in it are dropped; the
    /// objects live on while something else holds them).
    public static func unmount(at path: String) throws {
        if umount2(normalize(path), 0) != 0 {
            throw BPFError.filesystem(path: path, operation: "unmount", errno: Glibc.errno)
        }
    }

    /// `mkdir -p`.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode) != 0 {
                let err = Glibc.errno
                if err == EEXIST { continue }
                throw BPFError.filesystem(path: current, operation: "mkdir", errno: err)
            }
        }
    }

    static func normalize(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }

    static func nearestExistingAncestor(of path: String) -> String? {
        var p = path
        while true {
            if access(p, F_OK) == 0 { return p }
            guard let slash = p.lastIndex(of: "/") else { return nil }
            if slash == p.startIndex { return "/" }
            p = String(p[..<slash])
        }
    }
}
