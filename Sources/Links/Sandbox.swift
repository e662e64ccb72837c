import CLinux
import Glibc

/// How to start a container's command.
public struct SpawnOptions: Sendable {
    /// Path of the network namespace to join; nil keeps the caller's (host networking).
    public var namespace: String?
    /// A hostname gives the container its own UTS namespace.
    public var hostname: String?
    /// The container's NIS domain name (--domainname), set with the hostname.
    public var domainname: String?
    /// What it may do: --privileged, or the capabilities it keeps (bit N: capability N).
    public var privileged = false
    public var capabilities: UInt64 = 0
    /// The agent's own paths (API socket, state, BPF pins), hidden from the container.
    public var hiddenPaths: [String] = []
    /// Files bind-mounted over /etc/hosts, /etc/resolv.conf and /etc/hostname.
    public var hostsFile: String?
    public var resolvConfFile: String?
    public var hostnameFile: String?
    /// stdout and stderr are appended here; stdin is /dev/null.
    public var logFile: String
    /// `run -i`/`-t`: a process whose stdout and stderr (and stdin, with `attachStdin`) the
    /// command uses instead, as `exec` uses the caller's terminal.
    public var attachPID: Int32 = 0
    public var attachStdin = false
    /// The supervisor writes the exit code here ("3\n"; 128+signal when killed).
    public var exitFile: String
    /// The command; arguments[0] is searched in $PATH.
    public var arguments: [String]

    public init(
        namespace: String?, hostname: String?, hostsFile: String?, resolvConfFile: String?, hostnameFile: String?,
        logFile: String, exitFile: String, arguments: [String]
    ) {
        self.namespace = namespace
        self.hostname = hostname
        self.hostsFile = hostsFile
        self.resolvConfFile = resolvConfFile
        self.hostnameFile = hostnameFile
        self.logFile = logFile
        self.exitFile = exitFile
        self.arguments = arguments
    }
}

/// Container processes: started under a detached supervisor, entered like nsenter.
public enum Sandbox {
    /// Starts the command in its own mount (and UTS) namespace, joined to `namespace`,
    /// under a supervisor that outlives this process. Returns the command's PID.
    /// Throws `.spawn` (see `isNotFound` / `isNotExecutable`) when the command cannot
    /// start, `.file` when a file it needs is missing.
    public static func spawn(_ options: SpawnOptions) throws -> Int32 {
        guard let command = options.arguments.first else {
            throw LinkError.spawn(command: "", errno: ENOENT)
        }
        try checkFiles(options)
        var pid: pid_t = 0
        let result = withCStrings(options.arguments) { argv in
            withCStrings(options.hiddenPaths) { hidden in
                withOptionalCString(options.namespace) { namespace in
                    withOptionalCString(options.hostname) { hostname in
                        withOptionalCString(options.hostsFile) { hosts in
                            withOptionalCString(options.resolvConfFile) { resolv in
                                withOptionalCString(options.hostnameFile) { hostnameFile in
                                    options.logFile.withCString { log in
                                        options.exitFile.withCString { exit in
                                            withOptionalCString(options.domainname) { domainname in
                                                var spawn = bp_spawn_opts(
                                                    netns_path: namespace, new_uts: hostname == nil ? 0 : 1,
                                                    hostname: hostname, domainname: domainname, hosts_file: hosts,
                                                    resolv_file: resolv, hostname_file: hostnameFile, log_file: log,
                                                    attach_pid: options.attachPID,
                                                    attach_stdin: options.attachStdin ? 1 : 0,
                                                    exit_file: exit, argv: argv,
                                                    confinement: bp_confinement(
                                                        privileged: options.privileged ? 1 : 0,
                                                        capabilities: options.capabilities,
                                                        hidden_paths: UnsafeRawPointer(hidden).assumingMemoryBound(
                                                            to: UnsafePointer<CChar>?.self)))
                                                return bp_spawn(&spawn, &pid)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        try check(result) { .spawn(command: command, errno: $0) }
        return pid
    }

    /// The C side reports every failure as an errno, so ENOENT from a missing bind-mount
    /// source would read as "command not found": check the files first.
    private static func checkFiles(_ options: SpawnOptions) throws {
        func exists(_ path: String, _ operation: String) throws {
            if access(path, F_OK) != 0 { throw LinkError.file(operation: operation, path: path, errno: Glibc.errno) }
        }
        if let namespace = options.namespace, !NetworkNamespace.isMounted(at: namespace) {
            throw LinkError.namespace(operation: "join network namespace", path: namespace, errno: ENOENT)
        }
        let mounts = [
            (options.hostsFile, "/etc/hosts"), (options.resolvConfFile, "/etc/resolv.conf"),
            (options.hostnameFile, "/etc/hostname"),
        ]
        for case (let source?, let target) in mounts {
            try exists(source, "bind-mount on \(target)")
            try exists(target, "bind-mount \(source)")
        }
        for file in [options.logFile, options.exitFile] {
            try exists(directory(of: file), "directory of \(file)")
        }
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Runs a command in the network, UTS, PID and mount namespaces of pid, confined as the
    /// container is (`privileged`, or the capabilities it keeps), with this process's stdio,
    /// and returns its exit code (127 not found, 126 not executable, 128+signal). ^C and ^\
    /// go to the command only. When the namespaces cannot be entered, prints why to stderr
    /// and returns 126.
    public static func exec(pid: Int32, arguments: [String], privileged: Bool, capabilities: UInt64) -> Int32 {
        let confinement = bp_confinement(
            privileged: privileged ? 1 : 0, capabilities: capabilities, hidden_paths: nil)  // the mount namespace has them hidden
        let result = withCStrings(arguments) { bp_exec_in(pid, $0, confinement) }
        if result < 0 {
            let message = "exec: cannot enter the namespaces of process \(pid): \(LinkError.message(-result))\n"
            _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            return 126
        }
        return result
    }

    /// Process start time in clock ticks since boot (to tell a container from a reused
    /// PID), or nil when there is no such process.
    /// A pidfd of the process (readable once it has exited), or nil.
    public static func pidfd(pid: Int32) -> Int32? {
        let fd = bp_pidfd_open(pid)
        return fd >= 0 ? fd : nil
    }

    public static func startTime(pid: Int32) -> UInt64? {
        var ticks: UInt64 = 0
        return bp_process_start_time(pid, &ticks) == 0 ? ticks : nil
    }

    /// Re-executes this program inside /run/netns/NAME (or a path, when name contains "/")
    /// so that every thread lives there. Returns only on failure, with the reason.
    public static func reexecInNetworkNamespace(_ name: String, arguments: [String]) -> LinkError {
        let result = withCStrings(arguments) { bp_reexec_in_netns(name, $0) }
        let path = name.contains("/") ? name : "/run/netns/" + name
        return .namespace(operation: "enter network namespace", path: path, errno: -result)
    }
}

/// A NULL-terminated char* array for the duration of body.
func withCStrings<R>(
    _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) throws -> R
) rethrows -> R {
    var pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return try body(&pointers)
}

func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

extension NetworkNamespace {
    /// The namespace's cookie as BPF programs see it (the caller's namespace when path is nil).
    public static func cookie(at path: String?) throws -> UInt64 {
        var cookie: UInt64 = 0
        let result = bp_netns_cookie(path, &cookie)
        if result < 0 {
            throw LinkError.namespace(
                operation: "read the cookie of", path: path ?? "the current namespace", errno: -result)
        }
        return cookie
    }
}

extension Sandbox {
    /// Moves the calling process into the cgroup v2 of `pid`, so that what it starts next
    /// belongs to the container as `docker exec` processes do (and its socket hooks apply).
    public static func joinCgroup(of pid: Int32) throws {
        guard let root = cgroup2Root(),
            let line = readText("/proc/\(pid)/cgroup")?.split(separator: "\n").first(where: { $0.hasPrefix("0::") })
        else { return }  // no cgroup v2: nothing to join
        let procs = root + String(line.dropFirst(3)) + "/cgroup.procs"
        let fd = open(procs, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LinkError.file(operation: "open", path: procs, errno: errno) }
        defer { close(fd) }
        let text = "\(getpid())\n"
        guard write(fd, text, text.utf8.count) >= 0 else {
            throw LinkError.file(operation: "join cgroup", path: procs, errno: errno)
        }
    }

    private static func cgroup2Root() -> String? {
        for line in readText("/proc/mounts")?.split(separator: "\n") ?? [] {
            let fields = line.split(separator: " ")
            if fields.count > 2 && fields[2] == "cgroup2" { return String(fields[1]) }
        }
        return nil
    }

    static func readText(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var text = ""
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil { text += String(cString: buffer) }
        return text
    }
}
