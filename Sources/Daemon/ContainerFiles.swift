import Datapath
import FoundationEssentials
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

    /// /etc/hosts: localhost, the --add-host lines, then the container's own addresses.
    /// Its peers are not here: the embedded DNS server answers for them, so nothing is
    /// rewritten when a container comes or goes.
    func writeHosts(container: Container, own: [IPv4Address], own6: [IPv6Address] = [], gateway: IPv4Address?) throws {
        var lines = [
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            "fe00::0\tip6-localnet",
            "ff00::0\tip6-mcastprefix",
            "ff02::1\tip6-allnodes",
            "ff02::2\tip6-allrouters",
        ]
        for extra in container.names?.extraHosts ?? [] {
            switch extra.address {
            case .ip(let ip): lines.append("\(ip)\t\(extra.name)")
            case .hostGateway: lines.append("\(gateway?.description ?? "127.0.0.1")\t\(extra.name)")
            }
        }
        var names: [String] = []
        let qualified = container.names?.domainname.map { container.hostname + "." + $0 }
        for name in [qualified, container.hostname, container.name, container.shortID].compactMap({ $0 })
        where !names.contains(name) {
            names.append(name)
        }
        lines += own.map { "\($0)\t\(names.joined(separator: " "))" }
        lines += own6.map { "\($0)\t\(names.joined(separator: " "))" }
        try writeInPlace(lines.joined(separator: "\n") + "\n", to: hosts)
    }

    func writeHostname(_ name: String) throws { try writeInPlace(name + "\n", to: hostname) }

    func writeResolvConf(_ text: String) throws { try writeInPlace(text, to: resolvConf) }

    /// The exit code the supervisor recorded, with the time it did; nil while running.
    func recordedExit() -> (code: Int32, at: Date)? {
        guard let text = try? String(contentsOfFile: exitCode, encoding: .utf8),
            let code = Int32(text.trimmingBlanks())
        else { return nil }
        let at = (try? FileManager.default.attributesOfItem(atPath: exitCode)[.modificationDate] as? Date) ?? Date()
        return (code, at)
    }

    func clearExit() { try? FileManager.default.removeItem(atPath: exitCode) }
}
