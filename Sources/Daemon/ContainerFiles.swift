import Datapath
import Foundation
import Model

/// The files a container sees as /etc/hosts, /etc/resolv.conf and /etc/hostname, plus its
/// log and the exit code its supervisor writes. They are bind-mounted into the container,
/// so updates rewrite them in place (same inode) and the container sees the new content.
struct ContainerFiles {
    let directory: String

    var hosts: String { directory + "/hosts" }
    var resolvConf: String { directory + "/resolv.conf" }
    var hostname: String { directory + "/hostname" }
    var log: String { directory + "/log" }
    var exitCode: String { directory + "/exit" }

    func create() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for path in [hosts, resolvConf, hostname] where !FileManager.default.fileExists(atPath: path) {
            try writeInPlace("", to: path)
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// /etc/hosts: localhost, the container's own addresses, and (on user-defined networks,
    /// where Docker has name resolution) one "address names" line per container that
    /// shares a network.
    func writeHosts(container: Container, own: [IPv4Address], peers: [String]) throws {
        var lines = [
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            "fe00::0\tip6-localnet",
            "ff00::0\tip6-mcastprefix",
            "ff02::1\tip6-allnodes",
            "ff02::2\tip6-allrouters",
        ]
        var names: [String] = []
        for name in [container.hostname, container.name, container.shortID] where !names.contains(name) {
            names.append(name)
        }
        lines += own.map { "\($0)\t\(names.joined(separator: " "))" }
        lines += peers
        try writeInPlace(lines.joined(separator: "\n") + "\n", to: hosts)
    }

    func writeHostname(_ name: String) throws { try writeInPlace(name + "\n", to: hostname) }

    /// The host's resolv.conf without loopback name servers, which would point at the
    /// container itself; Docker falls back to public resolvers the same way.
    func writeResolvConf(hostResolvConf: String = "/etc/resolv.conf") throws {
        let original = (try? String(contentsOfFile: hostResolvConf, encoding: .utf8)) ?? ""
        var lines = original.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { line in
            let fields = line.split(whereSeparator: \.isWhitespace)
            return
                !(fields.first == "nameserver" && fields.count > 1
                && (fields[1].hasPrefix("127.") || fields[1] == "::1"))
        }
        if !lines.contains(where: { $0.hasPrefix("nameserver") }) {
            lines += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
        }
        try writeInPlace(lines.joined(separator: "\n").trimmingCharacters(in: .newlines) + "\n", to: resolvConf)
    }

    /// The exit code the supervisor recorded, with the time it did; nil while running.
    func recordedExit() -> (code: Int32, at: Date)? {
        guard let text = try? String(contentsOfFile: exitCode, encoding: .utf8),
            let code = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        let at = (try? FileManager.default.attributesOfItem(atPath: exitCode)[.modificationDate] as? Date) ?? Date()
        return (code, at)
    }

    func clearExit() { try? FileManager.default.removeItem(atPath: exitCode) }
}
