import BPF
import CBPF
import Foundation
import Model
import Synchronization

/// The endpoint programs (bpf/endpoint.bpf.c) on each container's host-side veth: tc
/// ingress counts what the container sends, tc egress what it receives. Maps and links
/// are pinned under --bpf-root, so counters and programs outlive agent restarts.
final class EndpointPrograms: @unchecked Sendable {
    private let object: BPFObject
    private let maps: BridgeportMaps
    private let ingress: BPFProgram
    private let egress: BPFProgram
    private let linkDirectory: String
    private let mode: TCAttachMode

    init(configuration: AgentConfiguration) throws {
        _ = try BPFFilesystem.ensureMounted(at: configuration.bpfRoot)
        let mapDirectory = configuration.bpfRoot + "/maps"
        linkDirectory = configuration.bpfRoot + "/links"
        mode = configuration.attachMode
        try BPFFilesystem.makeDirectories(mapDirectory)
        try BPFFilesystem.makeDirectories(linkDirectory)
        object = try BPFObject.load(try EndpointPrograms.objectPath(configuration, "endpoint.bpf.o"), pinRoot: mapDirectory)
        maps = try BridgeportMaps(object: object)
        ingress = try object.program(BP_PROG_ENDPOINT_INGRESS)
        egress = try object.program(BP_PROG_ENDPOINT_EGRESS)
    }

    /// Attaches both programs to the interface as pinned tcx links; a link pinned by an
    /// earlier agent is switched to this agent's program instead (no gap in counting).
    /// Each tcx attach waits for an RCU grace period, so both directions go at once.
    func attach(interface: String, ifindex: UInt32, endpoint: Endpoint) throws {
        let hooks = [(ingress, TCDirection.ingress), (egress, .egress)]
        let errors = Mutex<[Error]>([])
        DispatchQueue.concurrentPerform(iterations: hooks.count) { i in
            let (program, direction) = hooks[i]
            do {
                guard mode == .tcx else {
                    // clsact + cls_bpf: the filter lives on the device, replaced in place by handle.
                    _ = try program.attach(ifindex: ifindex, direction: direction, mode: .tc)
                    return
                }
                let pin = linkPath(interface, direction)
                if FileManager.default.fileExists(atPath: pin), let link = try? TCAttachment.openPinned(pin), link.ifindex == ifindex {
                    try link.replace(program: program)
                } else {
                    try? FileManager.default.removeItem(atPath: pin)
                    _ = try program.attach(ifindex: ifindex, direction: direction, pinPath: pin)
                }
            } catch {
                errors.withLock { $0.append(error) }
            }
        }
        if let error = errors.withLock({ $0.first }) { throw error }
        if let ip = endpoint.ip, let mac = endpoint.mac {
            try maps.setEndpoint(ifindex: ifindex, bp_endpoint(ipv4: ip.octets, mac: mac.bytes, networkID: 0, flags: 0))
        }
    }

    /// Forgets an interface whose veth is gone: its link pins and its map entries.
    func forget(interface: String, ifindex: UInt32?) {
        for direction in TCDirection.allCases { try? FileManager.default.removeItem(atPath: linkPath(interface, direction)) }
        if let ifindex { try? maps.removeEndpoint(ifindex: ifindex) }
    }

    /// Pinned links whose interface is not in `interfaces`.
    func orphanedLinks(keeping interfaces: Set<String>) -> [String] {
        let pins = (try? FileManager.default.contentsOfDirectory(atPath: linkDirectory)) ?? []
        return pins.filter { pin in !interfaces.contains(String(pin[..<(pin.lastIndex(of: "_") ?? pin.endIndex)])) }.map { pin in
            try? FileManager.default.removeItem(atPath: linkDirectory + "/" + pin)
            return "removed orphaned BPF link pin \(pin)"
        }
    }

    /// bpffs refuses '.' in names, hence "veth1234567_ingress".
    private func linkPath(_ interface: String, _ direction: TCDirection) -> String {
        "\(linkDirectory)/\(interface)_\(direction.rawValue)"
    }

    /// --bpf-objects, else build/bpf found upward from the binary (a source checkout).
    static func objectPath(_ configuration: AgentConfiguration, _ name: String) throws -> String {
        if let directory = configuration.bpfObjectDirectory { return directory + "/" + name }
        let binary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: binary).deletingLastPathComponent()
        for _ in 0..<6 {
            for candidate in [directory.appendingPathComponent(name), directory.appendingPathComponent("build/bpf/" + name)]
            where FileManager.default.fileExists(atPath: candidate.path) {
                return candidate.path
            }
            directory.deleteLastPathComponent()
        }
        throw AgentError.startup("BPF object \(name) not found next to the binary or in build/bpf: run `make bpf` or pass --bpf-objects DIR")
    }
}
