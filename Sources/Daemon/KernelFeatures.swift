import BPF
import Glibc

/// What Bridgeport's programs need of the kernel beyond loading, each with the release
/// that brought it. Without them the programs would still load and run, and do the wrong
/// thing: masquerade without BPF_FIB_LOOKUP_SRC would send containers' packets out with
/// their private source addresses.
enum KernelFeature: CaseIterable, Sendable {
    case fibLookupSource, redirectPeer, tcx, kernelBTF

    var name: String {
        switch self {
        case .fibLookupSource: "bpf_fib_lookup with BPF_FIB_LOOKUP_SRC"
        case .redirectPeer: "bpf_redirect_peer"
        case .tcx: "tcx links"
        case .kernelBTF: "the kernel's BTF (/sys/kernel/btf/vmlinux)"
        }
    }

    var since: String {
        switch self {
        case .fibLookupSource: "Linux 6.7"
        case .redirectPeer: "Linux 5.10"
        case .tcx: "Linux 6.6"
        case .kernelBTF: "CONFIG_DEBUG_INFO_BTF, Linux 5.4"
        }
    }

    var neededFor: String {
        switch self {
        case .fibLookupSource: "masquerade picks the host's source address with it"
        case .redirectPeer: "published ports and replies reach containers with it"
        case .tcx: "--attach-mode tcx (the default on uplinks) attaches with them; --attach-mode tc does not need them"
        case .kernelBTF: "the programs read how a packet's checksum stands (skb->ip_summed) where it gives"
        }
    }
}

/// Tells whether the running kernel has a feature (a protocol, so that tests can fake a
/// kernel without one).
protocol KernelProbe: Sendable {
    func supports(_ feature: KernelFeature) throws -> Bool
}

/// The running kernel, asked at run time (see cbpf.h): a probe program run once, libbpf's
/// helper probe, and a tcx attach in a throwaway network namespace.
struct SystemKernelProbe: KernelProbe {
    func supports(_ feature: KernelFeature) throws -> Bool {
        let rc =
            switch feature {
            case .fibLookupSource: KernelProbes.fibLookupSource()
            case .redirectPeer: KernelProbes.redirectPeer()
            case .tcx: KernelProbes.tcx()
            case .kernelBTF: KernelProbes.kernelBTF()
            }
        guard rc >= 0 else {
            throw AgentError.startup(
                "cannot probe the kernel for \(feature.name): \(String(cString: strerror(-rc))) (the agent needs CAP_BPF and CAP_NET_ADMIN)"
            )
        }
        return rc == 1
    }
}

enum KernelRequirements {
    /// The features this configuration needs: tcx only where an attach mode uses it.
    static func needed(_ configuration: AgentConfiguration) -> [KernelFeature] {
        let tcx = configuration.uplinkAttachMode == .tcx || configuration.endpointAttachMode == .tcx
        return [.fibLookupSource, .redirectPeer, .kernelBTF] + (tcx ? [.tcx] : [])
    }

    /// Refuses to start, naming each missing feature and the release that has it.
    static func check(_ configuration: AgentConfiguration, kernel: some KernelProbe) throws {
        let missing = try needed(configuration).filter { !(try kernel.supports($0)) }
        guard !missing.isEmpty else { return }
        let lines = missing.map { "\($0.name) (\($0.since)): \($0.neededFor)" }
        throw AgentError.startup(
            "this kernel (\(release)) lacks what Bridgeport's programs need: \(lines.joined(separator: "; ")). Upgrade the kernel"
        )
    }

    static var release: String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: name.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    }
}
