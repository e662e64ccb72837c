import BPF
import Foundation

/// The agent's settings, from `bridgeport daemon`'s flags.
public struct AgentConfiguration: Sendable {
    public var stateDirectory = "/var/lib/bridgeport"
    public var bpfRoot = "/sys/fs/bpf/bridgeport"
    public var socketPath = "/run/bridgeport.sock"
    public var metricsHost = "127.0.0.1"
    public var metricsPort = AgentConfiguration.defaultMetricsPort
    /// The cgroup v2 directory for socket hooks; nil means the root of the cgroup2 hierarchy.
    public var cgroupPath: String?
    /// tcx links (Linux 6.6+), or clsact + cls_bpf for older kernels.
    public var attachMode = TCAttachMode.tcx
    /// TLS and basic auth for the metrics endpoint (exporter-toolkit's web config file).
    public var webConfigFile: String?
    /// Directory holding the compiled BPF objects.
    public var bpfObjectDirectory: String?

    /// In the exporter range 9100-9999, clear of node_exporter's 9100.
    public static let defaultMetricsPort = 9477

    public init() {}

    var databasePath: String { stateDirectory + "/bridgeport.db" }
    func namespacePath(_ containerID: String) -> String { stateDirectory + "/netns/" + containerID }
    func containerDirectory(_ containerID: String) -> String { stateDirectory + "/containers/" + containerID }
}
