/// What a container may do: Docker's default capabilities, changed by --cap-add and
/// --cap-drop, or every one with --privileged (which also leaves /proc and /sys unmasked
/// and no_new_privs unset).
public struct Confinement: Codable, Sendable, Hashable {
    /// Capability names without "CAP_", upper case, as given ("ALL" for every one).
    public var capAdd: [String] = []
    public var capDrop: [String] = []
    public var privileged = false

    public init() {}

    /// Validates --cap-add and --cap-drop as Docker does: "NET_ADMIN", "cap_net_admin" or "ALL".
    public init(capAdd: [String], capDrop: [String], privileged: Bool) throws(ModelError) {
        self.capAdd = try capAdd.map { name throws(ModelError) in try Capability.normalized(name, flag: "--cap-add") }
        self.capDrop = try capDrop.map { name throws(ModelError) in try Capability.normalized(name, flag: "--cap-drop")
        }
        self.privileged = privileged
    }

    /// The capabilities it keeps, bit N for capability N. As Docker's TweakCapabilities:
    /// privileged or ALL added: every one; ALL dropped: only those added; else the default
    /// set without those dropped, with those added.
    public var capabilities: UInt64 {
        if privileged || capAdd.contains(Capability.all) { return Capability.allMask }
        let base =
            capDrop.contains(Capability.all)
            ? 0 : Capability.mask(Capability.dockerDefaults) & ~Capability.mask(capDrop)
        return base | Capability.mask(capAdd)
    }
}

public enum Capability {
    static let all = "ALL"

    /// linux/capability.h, by number.
    public static let names = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ]

    /// Docker's default set (moby's oci/caps/defaults.go).
    public static let dockerDefaults = [
        "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP",
        "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
    ]

    static var allMask: UInt64 { (1 << UInt64(names.count)) - 1 }

    static func mask(_ capabilities: [String]) -> UInt64 {
        capabilities.reduce(0) { mask, name in names.firstIndex(of: name).map { mask | 1 << UInt64($0) } ?? mask }
    }

    static func normalized(_ text: String, flag: String) throws(ModelError) -> String {
        var name = text.uppercased()
        if name.hasPrefix("CAP_") { name.removeFirst(4) }
        guard name == all || names.contains(name) else {
            throw .invalidFlag(flag, text, "unknown capability: \"CAP_\(name)\"")
        }
        return name
    }
}
