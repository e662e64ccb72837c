import API
import BPF
import Datapath
import FoundationEssentials
import Glibc
import Model

/// The agent's settings, from `bridgeport daemon`'s flags.
public struct AgentConfiguration: Sendable {
    public var stateDirectory = "/var/lib/bridgeport"
    public var bpfRoot = "/sys/fs/bpf/bridgeport"
    public var socketPath = "/run/bridgeport.sock"
    public var metricsHost = "127.0.0.1"
    public var metricsPort = AgentConfiguration.defaultMetricsPort
    /// The cgroup v2 directory for socket hooks; nil means the root of the cgroup2 hierarchy.
    public var cgroupPath: String?
    /// How tc programs attach; nil ("auto") means tcx links on uplinks and clsact +
    /// cls_bpf on container veths. A tcx attach waits for an RCU grace period under
    /// the RTNL lock (25-50 ms for a veth's two hooks), which would dominate container
    /// start; a cls_bpf filter attaches at once, and Bridgeport owns those veths alone.
    public var attachMode: TCAttachMode?
    var uplinkAttachMode: TCAttachMode { attachMode ?? .tcx }
    var endpointAttachMode: TCAttachMode { attachMode ?? .tc }
    /// TLS and basic auth for the metrics endpoint (exporter-toolkit's web config file).
    public var webConfigFile: String?
    /// Directory holding the compiled BPF objects.
    public var bpfObjectDirectory: String?
    /// The cluster's etcd ("etcd://HOST:PORT"); nil keeps the agent single-host.
    public var clusterStore: String?
    /// This host's address on the underlay: other hosts send its containers' VXLAN
    /// traffic there.
    public var advertiseAddress: IPv4Address?
    /// Where to serve Docker's remote network driver protocol (e.g.
    /// /run/docker/plugins/bridgeport.sock); nil serves none.
    public var dockerPluginSocket: String?
    /// How long a host's entries outlive its agent in the cluster store.
    public var clusterLeaseSeconds = 10
    /// Flows the flow table holds (--max-flows); a new flow beyond is dropped (ct_full).
    public var maxFlows = defaultMaxFlows
    /// How long idle flows live (--flow-timeout NAME=DURATION).
    public var flowTimeouts = FlowTimeouts()
    /// Counts every BPF program's runs and run time while the agent runs (--bpf-stats).
    public var programStatistics = false
    /// The host's resolver configuration: containers' search domains and options, and the
    /// servers the embedded DNS forwards to.
    public var resolvConf = "/etc/resolv.conf"
    /// Monitor events each CPU may emit per second and type (--monitor-rate); 0: no limit.
    public var monitorRate: UInt32 = defaultMonitorRate
    public static let defaultMonitorRate: UInt32 = 1000
    /// How published ports show in the metrics (--metrics-port-series); nil: by their number.
    public var portSeries: PortSeries?
    /// The configuration file's settings and their flags (default-address-pools, bip, ...).
    public var networkDefaults = NetworkDefaults()

    /// In the exporter range 9100-9999, clear of node_exporter's 9100.
    public static let defaultMetricsPort = 9477

    public init() {}

    /// What the kernel side needs of these.
    public var datapath: DatapathConfiguration {
        DatapathConfiguration(
            bpfRoot: bpfRoot, uplinkAttachMode: uplinkAttachMode, endpointAttachMode: endpointAttachMode,
            bpfObjectDirectory: bpfObjectDirectory, advertiseAddress: advertiseAddress,
            maxFlows: maxFlows, flowTimeouts: flowTimeouts, programStatistics: programStatistics)
    }

    var databasePath: String { stateDirectory + "/bridgeport.db" }
    func namespacePath(_ containerID: String) -> String { stateDirectory + "/netns/" + containerID }
    func containerDirectory(_ containerID: String) -> String { stateDirectory + "/containers/" + containerID }
}

extension FlowTimeouts {
    /// Applies one `--flow-timeout NAME=DURATION` ("udp=2s", "tcp-established=120h").
    public mutating func apply(_ setting: String) throws(ModelError) {
        let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
        let names = FlowTimeouts.names.joined(separator: ", ")
        guard parts.count == 2, self[parts[0]] != nil else {
            throw .invalidOption(setting, "expected NAME=DURATION with NAME one of \(names)")
        }
        let seconds = try GoDuration.seconds(parts[1])
        guard seconds >= 1, seconds <= Double(UInt32.max / 2) else {
            throw .invalidDuration(parts[1], "a flow timeout is from 1s to 68 years, in whole seconds")
        }
        set(parts[0], seconds: UInt32(seconds.rounded()))
    }
}

extension AgentConfiguration {
    /// `bridgeport daemon --config-file`'s default (dockerd's is /etc/docker/daemon.json).
    public static let defaultConfigFile = "/etc/bridgeport/daemon.json"

    /// The settings of the configuration file at `path` and of their flags, checked as
    /// dockerd checks them: a missing file is none unless it was named (`explicit`); a file
    /// that is no JSON document of known keys, a key also given as a flag, or a bad value
    /// is refused, naming the file, before the agent changes anything.
    public static func networkDefaults(
        file path: String, explicit: Bool, flags: DaemonFile
    ) throws(AgentError) -> NetworkDefaults {
        func refused(_ reason: String) -> AgentError {
            .startup("unable to configure the Bridgeport daemon with file \(path): \(reason)")
        }
        var file = DaemonFile()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            do throws(ModelError) {
                guard let data = readAll(fd) else {
                    throw .invalidConfiguration("read \(path): it is not a readable file")
                }
                file = try DaemonFile.decode(data)
                try DaemonFile.checkConflicts(flags: flags, file: file)
                _ = try file.validated()
            } catch {
                throw refused(error.description)
            }
        } else if explicit || errno != ENOENT {
            // Go's words, as dockerd prints them: "open PATH: no such file or directory".
            throw refused("open \(path): \(String(cString: strerror(errno)).lowercased())")
        }
        do throws(ModelError) {
            return try file.merging(flags).validated()
        } catch {
            throw .startup("invalid daemon configuration: \(error)")
        }
    }
}
