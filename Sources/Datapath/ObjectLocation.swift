import BPF
import FoundationEssentials

/// Where the compiled BPF objects are found.
enum ObjectLocation {
    /// --bpf-objects; else next to the binary; else build/bpf found upward from the binary
    /// (a source checkout, freshest); else the copy embedded in the binary ("embedded:NAME",
    /// `make build`); else the one SwiftPM's CompileBPF plugin built next to the binary (a
    /// bare `swift build`). Only those places: a stray object in some parent directory is
    /// never loaded.
    static func path(_ configuration: DatapathConfiguration, _ name: String) throws -> String {
        if let directory = configuration.bpfObjectDirectory { return directory + "/" + name }
        let binary =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: binary).deletingLastPathComponent()
        var candidates = [directory.appendingPathComponent(name)]
        for _ in 0..<6 {
            candidates.append(directory.appendingPathComponent("build/bpf/" + name))
            directory.deleteLastPathComponent()
        }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) {
            return found.path
        }
        if BPFObject.hasEmbeddedObjects { return "embedded:" + name }
        // Not Bundle.module, which ends the process when the bundle is missing (an installed binary).
        let resource = URL(fileURLWithPath: binary).deletingLastPathComponent()
            .appendingPathComponent("bridgeport_BPFPrograms.resources/" + name)
        if FileManager.default.fileExists(atPath: resource.path) { return resource.path }
        throw DatapathError.objectNotFound(name)
    }
}
