import BPF
import FoundationEssentials
import Links
import Logging
import Model

/// Where the programs hook in besides the veths: the host's uplinks (published ports,
/// direct-access filtering, VXLAN from the cluster) and the cgroup socket hooks
/// (localhost and hairpin).
extension KernelDatapath {
    /// The host's uplinks: every link but lo, ours, and the ports of bridges.
    public func uplinks() throws -> [LinkInfo] { try links.links().filter(LinkAlias.isUplink) }

    /// Attaches the uplink program to every uplink but those named in `except`; returns
    /// those it is on.
    public func attachUplinks(except: Set<String>) throws -> [LinkInfo] {
        try uplinks().filter { !except.contains($0.name) }.filter(attachUplink)
    }

    /// Attaches the uplink program its packets' headers need; false for a device whose
    /// packets are neither Ethernet nor IP (it has no program).
    public func attachUplink(_ link: LinkInfo) throws -> Bool {
        guard let program = Programs.uplinkProgram(type: link.type) else {
            logger.warning(
                "an uplink whose packets are neither Ethernet nor IP gets no uplink program",
                metadata: ["interface": "\(link.name)", "type": "\(link.type)"])
            return false
        }
        try programs.attachUplink(program, interface: link.name, ifindex: UInt32(link.index))
        return true
    }

    /// An uplink that went: its link pins go too (the kernel detached its programs).
    public func forgetUplink(name: String) { programs.forget(interface: name, ifindex: nil) }

    /// Attaches the socket hooks to --cgroup (default: the cgroup2 root).
    public func attachSocketHooks(cgroup: String?) throws -> String {
        guard let path = cgroup ?? KernelDatapath.cgroup2Root() else {
            throw DatapathError.noCgroup2
        }
        try programs.attachSocketHooks(cgroup: path)
        return path
    }

    /// The root of the cgroup v2 hierarchy, from /proc/mounts.
    public static func cgroup2Root() -> String? {
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 2 && fields[2] == "cgroup2" { return String(fields[1]) }
        }
        return nil
    }

    /// The socket hooks act in the agent's namespace and in every container's.
    public func syncNamespaces(containers: [(path: String, source: SocketSource?)]) throws {
        var namespaces: [UInt64: SocketNamespace] = [try NetworkNamespace.cookie(at: nil): .host]
        for (path, source) in containers {
            // Another runtime's namespace this agent cannot open (gone, or in a mount
            // namespace it does not see) only loses hairpin; the agent still starts.
            do {
                namespaces[try NetworkNamespace.cookie(at: path)] = KernelDatapath.container(source)
            } catch {
                logger.warning(
                    "a container's namespace is out of reach: its connections to published ports at the host's addresses won't be translated",
                    metadata: ["namespace": "\(path)", "error": "\(error)"])
            }
        }
        try programs.syncNamespaces(namespaces)
    }

    public func register(containerNamespace path: String, source: SocketSource?, dns: DNSServerPorts?) throws {
        try programs.register(
            namespace: try NetworkNamespace.cookie(at: path), KernelDatapath.container(source, dns: dns))
    }

    private static func container(_ source: SocketSource?, dns: DNSServerPorts? = nil) -> SocketNamespace {
        .container(ip: source?.ip, ip6: source?.ip6, ifindex: source?.ifindex ?? 0, dns: dns)
    }

    /// A container's sockets' source: its first interface with an IPv4 address (else with an
    /// IPv6 one), and the first IPv6 address among them all (an IPv6-only network may come
    /// first, a dual-stack one after it).
    public func socketSource(_ endpoints: [Endpoint]) -> SocketSource? {
        let ordered = endpoints.sorted { $0.order < $1.order }.filter { ifindex(of: $0) != nil }
        guard let first = ordered.first(where: { $0.ip != nil }) ?? ordered.first(where: { $0.ip6 != nil }),
            let index = ifindex(of: first)
        else { return nil }
        return SocketSource(ip: first.ip, ip6: first.ip6 ?? ordered.lazy.compactMap(\.ip6).first, ifindex: index)
    }

    public func boundSockets(namespace path: String, address: IPv4Address) throws -> ServerSockets {
        try ServerSockets.bind(address: address, in: path)
    }

    public func unregister(containerNamespace path: String) {
        if let cookie = try? NetworkNamespace.cookie(at: path) { programs.unregister(namespace: cookie) }
    }

    /// Tells the uplink program which hosts VXLAN may come from (nil: not in a cluster).
    public func setVXLANPeers(_ hosts: Set<IPv4Address>?, keepingOthers: Bool) throws {
        try programs.setVXLANPeers(hosts, keepingOthers: keepingOthers)
    }
}
