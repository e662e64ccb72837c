import FoundationEssentials
import Glibc

/// Why the kernel side of a change failed, with what it was doing. Each says what to do.
public enum DatapathError: Error, CustomStringConvertible, Sendable {
    /// A system call failed: what it was doing (e.g. "write /proc/sys/...") and errno.
    case system(String, errno: Int32)
    /// A macvlan network's parent (or a VLAN parent's base) is not on the host.
    case parentNotFound(String)
    /// A VLAN parent on a kernel without 802.1Q.
    case noVLANSupport(parent: String)
    /// An overlay network on an agent that is in no cluster.
    case overlayOutsideCluster(network: String)
    /// Another runtime's interface is not in the agent's namespace.
    case interfaceNotFound(String)
    /// A network whose driver has no bridge was asked for a bridge port.
    case noBridge(network: String)
    /// Start-up: no cgroup v2 hierarchy for the socket hooks.
    case noCgroup2
    /// Start-up: a BPF object is in none of the places it is looked for.
    case objectNotFound(String)
    /// A datapath without a flow table (a test fake) was asked for flows.
    case noFlowTable
    case noMonitor
    /// An endpoint with no MAC or no address: the endpoint programs would have no entry to
    /// judge it by, and drop all it sends.
    case unaddressedEndpoint(interface: String)

    /// The failure of the last system call, said as "<operation>: <strerror>".
    static func lastSystemCall(_ operation: String) -> DatapathError { .system(operation, errno: errno) }

    public var description: String {
        switch self {
        case .system(let operation, let code): "\(operation): \(String(cString: strerror(code)))"
        case .parentNotFound(let parent): "-o parent interface was not found on the host: \(parent)"
        case .noVLANSupport(let parent):
            "cannot create the VLAN sub-interface \(parent): this kernel has no 802.1Q support "
                + "(load the 8021q module, or give a parent without .VLAN)"
        case .overlayOutsideCluster(let network):
            "network \(network) is an overlay: start the agent with --cluster-store and --advertise-address"
        case .interfaceNotFound(let name):
            "interface \(name) does not exist in the agent's network namespace: "
                + "is the agent running in the runtime's host namespace?"
        case .noBridge(let network): "network \(network) has no bridge"
        case .noCgroup2: "no cgroup v2 hierarchy is mounted: mount one or pass --cgroup PATH"
        case .objectNotFound(let name):
            "BPF object \(name) is neither embedded, nor in build/bpf, nor next to the binary: build with `make build` or `swift build`, or pass --bpf-objects DIR"
        case .noFlowTable: "this datapath has no flow table"
        case .noMonitor: "this datapath has no monitor events"
        case .unaddressedEndpoint(let interface):
            "the endpoint on \(interface) has no MAC or no address: its traffic could not be judged"
        }
    }

    /// Whether the request was at fault (a client error), not the host.
    public var isRequestError: Bool {
        switch self {
        case .parentNotFound: true
        default: false
        }
    }
}

/// Rewrites the file without replacing it, so bind mounts keep seeing it. It writes over
/// the old bytes and then cuts the rest: truncating to zero first would free the file's
/// blocks each time, which costs a synchronous discard on some disks.
public func writeInPlace(_ text: String, to path: String) throws(DatapathError) {
    let bytes = Data(text.utf8)
    if FileManager.default.contents(atPath: path) == bytes { return }
    let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .lastSystemCall("write \(path)") }
    defer { close(fd) }
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard written > 0 else { throw .lastSystemCall("write \(path)") }
        offset += written
    }
    guard ftruncate(fd, off_t(bytes.count)) == 0 else { throw .lastSystemCall("truncate \(path)") }
}
