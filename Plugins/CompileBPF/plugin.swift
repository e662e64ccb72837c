import Foundation
import PackagePlugin

/// Compiles bpf/*.bpf.c with the toolchain's clang (`-target bpf`) whenever a program or a
/// header changes, so that a bare `swift build` or `swift test` has the programs the agent
/// loads: the objects become resources of the target (next to the binary, in
/// bridgeport_BPFPrograms.resources). `make build` also embeds them in the binary itself.
@main
struct CompileBPF: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let sources = context.package.directoryURL.appending(path: "bpf")
        let files = try FileManager.default.contentsOfDirectory(at: sources, includingPropertiesForKeys: nil)
        let headers = try FileManager.default.contentsOfDirectory(
            at: sources.appending(path: "lib"), includingPropertiesForKeys: nil
        ).filter { $0.pathExtension == "h" } + files.filter { $0.pathExtension == "h" }
        let clang = try context.tool(named: "clang").url
        return files.filter { $0.lastPathComponent.hasSuffix(".bpf.c") }.sorted { $0.path < $1.path }.map { program in
            let object = context.pluginWorkDirectoryURL.appending(
                path: program.deletingPathExtension().lastPathComponent + ".o")
            return .buildCommand(
                displayName: "Compiling BPF \(program.lastPathComponent)",
                executable: clang,
                arguments: [
                    "-target", "bpf", "-mcpu=v3", "-O2", "-g", "-Wall", "-Werror",
                    "-I", "/usr/include/\(Self.architecture)-linux-gnu", "-c", program.path, "-o", object.path,
                ],
                inputFiles: [program] + headers,
                outputFiles: [object])
        }
    }

    /// Where Debian keeps the architecture's kernel headers (asm/types.h), as `uname -m` names it.
    static var architecture: String {
        #if arch(arm64)
            "aarch64"
        #else
            "x86_64"
        #endif
    }
}
