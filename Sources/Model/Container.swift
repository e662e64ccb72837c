import FoundationEssentials

public struct Container: Codable, Sendable, Hashable, Identifiable {
    public var id: String
    public var name: String
    public var hostname: String
    public var command: [String]
    public var created: Date
    /// The first network given with --network (Docker's HostConfig.NetworkMode), or
    /// `container:ID` for one that shares another container's network namespace.
    public var networkMode: String
    public var ports: [PortMapping]
    public var process: ProcessState
    /// Sources allowed to use a published host port ("5000/tcp" -> CIDRs); a port with
    /// no entry is open to all (`bridgeport port allow`).
    public var allowedSources: [String: [IPNetwork]]? = nil
    /// --add-host, --dns, --dns-search, --dns-option, --domainname (nil: none given).
    public var names: NameSettings? = nil
    /// Stopped with `stop` and not started since: its host ports are free for others, as
    /// in Docker, and `start` takes them again.
    public var stopped: Bool? = nil
    /// --cap-add, --cap-drop, --privileged (nil: Docker's defaults).
    public var confinement: Confinement? = nil
    /// --sysctl: net.* settings of its network namespace, as "key=value", in order.
    public var sysctls: [String]? = nil
    /// --expose and the container side of -p (Docker's Config.ExposedPorts); nil: none.
    public var exposedPorts: [ExposedPort]? = nil
    /// -P: every exposed port without a -p of its own got a free host port.
    public var publishAll: Bool? = nil
    /// --rm: removed when its command ends.
    public var autoRemove: Bool? = nil

    /// The container whose network namespace, names and files this one shares
    /// (`--network container:NAME`); nil when it has its own.
    public var joinedContainerID: String? {
        NetworkAttachmentRequest(network: networkMode).joinedContainer
    }

    /// The ports in the maps now: none while stopped.
    public var publishedPorts: [PortMapping] { stopped == true ? [] : ports }

    /// The CIDRs that may reach host port `port` (of either family), or nil when it is open to all.
    public func allowed(hostPort port: UInt16, _ proto: PortProtocol) -> [IPNetwork]? {
        allowedSources?["\(port)/\(proto.rawValue)"]
    }

    /// The sources of the mapping's family that may use it, or nil when it is open to all. A
    /// port restricted to sources of the other family only lets none of this one in.
    public func allowed(_ mapping: PortMapping) -> [IPNetwork]? {
        allowed(hostPort: mapping.hostPort, mapping.proto)?.filter { $0.family == mapping.hostIP.family }
    }

    public var shortID: String { String(id.prefix(12)) }

    public init(
        id: String, name: String, hostname: String, command: [String], created: Date, networkMode: String,
        ports: [PortMapping] = [], process: ProcessState = ProcessState()
    ) {
        self.id = id
        self.name = name
        self.hostname = hostname
        self.command = command
        self.created = created
        self.networkMode = networkMode
        self.ports = ports
        self.process = process
    }
}

/// What we know of a container's main process.
public struct ProcessState: Codable, Sendable, Hashable {
    public var pid: Int32 = 0
    /// Start time in clock ticks since boot, to tell our process from a reused PID.
    public var startTicks: UInt64 = 0
    public var startedAt: Date?
    public var finishedAt: Date?
    public var exitCode: Int32?

    public init() {}
}

/// A container's attachment to one network.
public struct Endpoint: Codable, Sendable, Hashable {
    public var containerID: String
    public var networkID: String
    public var ip: IPv4Address?
    public var mac: MACAddress?
    /// Host-side veth (bridge networks only).
    public var hostInterface: String?
    /// Interface name inside the container (eth0, eth1, ...).
    public var containerInterface: String?
    /// Connection order: the first non-internal network gives the default route.
    public var order: Int
    /// macvlan: the ifindex given to the device made in the container's namespace,
    /// unique among the agent's containers (see `Endpoint.namespacedIndexes`); the
    /// endpoint programs key its counters by it.
    public var linkIndex: Int? = nil
    /// Names it has on this network besides its own (--network-alias, connect --alias).
    public var aliases: [String]? = nil
    /// Its IPv6 address, on a network with IPv6.
    public var ip6: IPv6Address? = nil

    /// Devices made inside containers' namespaces take ifindexes from this range, far above
    /// what the host's own allocator hands out, so that they never clash with a host link
    /// in the counter maps.
    public static let namespacedIndexes = 0x4000_0000..<0x7fff_ffff

    public var id: String { containerID + "/" + networkID }

    /// The name its BPF links are pinned by: the host-side veth, or for a device inside
    /// the container, "mv" and its ifindex in hex (bpffs names may not hold '.').
    public var attachmentName: String? {
        hostInterface ?? linkIndex.map { "mv" + String($0, radix: 16) }
    }
    /// The interface label of its metrics: the host-side veth (as cAdvisor's), or the
    /// container's own device when there is no host side.
    public var interfaceLabel: String? { hostInterface ?? containerInterface }

    public init(
        containerID: String, networkID: String, ip: IPv4Address?, mac: MACAddress?, hostInterface: String?,
        containerInterface: String?, order: Int
    ) {
        self.containerID = containerID
        self.networkID = networkID
        self.ip = ip
        self.mac = mac
        self.hostInterface = hostInterface
        self.containerInterface = containerInterface
        self.order = order
    }
}

/// `run -i`/`-t` without `-d`: the command uses this process's stdout and stderr, and
/// with `stdin` its stdin, as `exec` uses the caller's terminal.
public struct ProcessAttachment: Codable, Sendable, Hashable {
    public var pid: Int32
    public var stdin: Bool
    public init(pid: Int32, stdin: Bool) {
        self.pid = pid
        self.stdin = stdin
    }
}

/// What `run` asks for, before validation.
public struct ContainerRequest: Codable, Sendable {
    public var name: String?
    /// The one network of clients that give a single one (the CNI-less API); `networks`
    /// wins when both are set.
    public var network: String?
    /// --network, each as given (repeatable; the first is the network mode).
    public var networks: [NetworkAttachmentRequest]?
    /// --expose PORT[-END][/PROTO], and -P.
    public var expose: [String]?
    public var publishAll: Bool?
    /// --rm.
    public var autoRemove: Bool?
    /// Attached `run -i`/`-t`: the CLI process whose stdio the command uses.
    public var attach: ProcessAttachment?
    public var ip: String?
    /// --ip6.
    public var ip6: String?
    public var hostname: String?
    public var ports: [String]
    public var command: [String]
    /// --network-alias: names on its network.
    public var aliases: [String]?
    /// --add-host, --dns, --dns-search, --dns-option and --domainname, as given.
    public var extraHosts: [String]?
    public var dns: [String]?
    public var dnsSearch: [String]?
    public var dnsOptions: [String]?
    public var domainname: String?
    /// --mac-address: the MAC of its interface on its network.
    public var macAddress: String?
    /// --sysctl KEY=VALUE.
    public var sysctls: [String]?
    /// --cap-add, --cap-drop, --privileged.
    public var capAdd: [String]?
    public var capDrop: [String]?
    public var privileged: Bool?

    public init(
        name: String? = nil, network: String? = nil, ip: String? = nil, hostname: String? = nil,
        ports: [String] = [], command: [String] = [], aliases: [String]? = nil, extraHosts: [String]? = nil,
        dns: [String]? = nil, dnsSearch: [String]? = nil, dnsOptions: [String]? = nil, domainname: String? = nil,
        capAdd: [String]? = nil, capDrop: [String]? = nil, privileged: Bool? = nil, macAddress: String? = nil,
        sysctls: [String]? = nil
    ) {
        self.name = name
        self.network = network
        self.ip = ip
        self.hostname = hostname
        self.ports = ports
        self.command = command
        self.aliases = aliases
        self.extraHosts = extraHosts
        self.dns = dns
        self.dnsSearch = dnsSearch
        self.dnsOptions = dnsOptions
        self.domainname = domainname
        self.capAdd = capAdd
        self.capDrop = capDrop
        self.privileged = privileged
        self.macAddress = macAddress
        self.sysctls = sysctls
    }

    /// --expose and -p's container ports, validated, sorted, each once; nil when none.
    public func exposedPorts() throws(ModelError) -> [ExposedPort]? {
        var ports: Set<ExposedPort> = []
        for spec in expose ?? [] { ports.formUnion(try ExposedPort.parse(spec)) }
        for spec in self.ports {
            for request in try PortRequest.parse(spec) {
                ports.insert(ExposedPort(request.proto, request.containerPort))
            }
        }
        return ports.isEmpty ? nil : ports.sorted()
    }

    /// --sysctl, validated: only the network namespace's own (net.*), as "key=value"; the
    /// key may name nothing outside /proc/sys/net.
    public func validSysctls() throws(ModelError) -> [String]? {
        guard let sysctls, !sysctls.isEmpty else { return nil }
        for setting in sysctls {
            guard let equals = setting.firstIndex(of: "=") else {
                throw .invalidFlag("--sysctl", setting, "sysctl '\(setting)' is not whitelisted")
            }
            let key = setting[..<equals]
            let labels = key.split(separator: ".", omittingEmptySubsequences: false)
            guard key.hasPrefix("net."), labels.count > 1,
                labels.allSatisfy({
                    !$0.isEmpty
                        && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
                })
            else {
                throw .invalidFlag("--sysctl", setting, "sysctl '\(key)' is not whitelisted")
            }
        }
        return sysctls
    }

    /// --network's values and the flags that go with them, and --expose, validated.
    public func validate() throws(ModelError) {
        let attachments = try attachments()
        for attachment in attachments { _ = try requestedMAC(attachment.macAddress) }
        if attachments[0].joinedContainer != nil { try checkJoinConflicts() }
        _ = try exposedPorts()
        _ = try nameSettings()
        _ = try confinement()
        _ = try validSysctls()
    }

    /// What it may do, validated; nil for Docker's defaults.
    public func confinement() throws(ModelError) -> Confinement? {
        let confinement = try Confinement(capAdd: capAdd ?? [], capDrop: capDrop ?? [], privileged: privileged ?? false)
        return confinement == Confinement() ? nil : confinement
    }

    /// What it asks of name resolution, validated.
    public func nameSettings() throws(ModelError) -> NameSettings? {
        let settings = try NameSettings(
            extraHosts: extraHosts ?? [], servers: dns ?? [], search: dnsSearch ?? [], options: dnsOptions ?? [],
            domainname: domainname)
        return settings == NameSettings() ? nil : settings
    }
}
