import FoundationEssentials
import Glibc

/// How a container resolves names, beyond its network's embedded DNS: `--add-host` lines
/// for /etc/hosts, and `--dns`, `--dns-search`, `--dns-option` for resolv.conf and the
/// forwarding of names the networks don't know.
public struct NameSettings: Codable, Sendable, Hashable {
    /// `--add-host NAME:IP` lines, in the order given.
    public var extraHosts: [ExtraHost] = []
    /// `--dns`: the servers that names the networks don't know are forwarded to, in place
    /// of the host's.
    public var servers: [IPv4Address] = []
    /// `--dns-search` (a single "." means none).
    public var search: [String] = []
    /// `--dns-option`, as written ("ndots:2", "timeout:1").
    public var options: [String] = []
    /// `--domainname`: the container's NIS domain name (its UTS namespace).
    public var domainname: String?

    public init() {}

    /// Validates what `run` was given, with the messages Docker's flags give.
    public init(
        extraHosts: [String], servers: [String], search: [String], options: [String], domainname: String?
    ) throws(ModelError) {
        for text in extraHosts { self.extraHosts.append(try ExtraHost(parsing: text)) }
        for text in servers {
            guard let ip = IPv4Address(text) else { throw .invalidFlag("--dns", text, "\(text) is not an ip address") }
            self.servers.append(ip)
        }
        for domain in search where domain != "." {
            do { try validateHostname(domain) } catch {
                throw .invalidFlag("--dns-search", domain, "\(domain) is not a valid domain")
            }
        }
        self.search = search
        self.options = options
        if let domainname {
            do { try validateHostname(domainname) } catch {
                throw .invalidFlag("--domainname", domainname, "\(domainname) is not a valid domain")
            }
        }
        self.domainname = domainname
    }
}

/// One `--add-host` entry: a name and the address /etc/hosts gives it.
public struct ExtraHost: Codable, Sendable, Hashable {
    public enum Address: Codable, Sendable, Hashable {
        /// An IPv4 or IPv6 address, as written.
        case ip(String)
        /// `host-gateway`: the host as the container reaches it, its network's gateway.
        case hostGateway
    }

    public var name: String
    public var address: Address

    public init(name: String, address: Address) {
        self.name = name
        self.address = address
    }

    /// "NAME:IP", "NAME=IP" or "NAME:host-gateway", as Docker's --add-host reads them; an
    /// IPv6 address may be written in brackets.
    public init(parsing text: String) throws(ModelError) {
        let separator = text.firstIndex(of: "=") ?? text.firstIndex(of: ":")
        guard let separator, separator != text.startIndex else {
            throw .invalidFlag("--add-host", text, "bad format for add-host: \"\(text)\"")
        }
        name = String(text[..<separator])
        var value = String(text[text.index(after: separator)...])
        if value.hasPrefix("["), value.hasSuffix("]") { value = String(value.dropFirst().dropLast()) }
        if value == "host-gateway" {
            address = .hostGateway
        } else if IPv4Address(value) != nil || isIPv6Address(value) {
            address = .ip(value)
        } else {
            throw .invalidFlag("--add-host", text, "invalid IP address in add-host: \"\(value)\"")
        }
    }
}

private func isIPv6Address(_ text: String) -> Bool {
    var storage = in6_addr()
    return inet_pton(AF_INET6, text, &storage) == 1
}

extension Container {
    /// The names its peers resolve it by on a network, as Docker 25's DNSNames: its name,
    /// the aliases it has there, its short ID and its hostname, each once.
    public func dnsNames(aliases: [String]) -> [String] {
        var names: [String] = []
        for name in [name] + aliases + [shortID, hostname] where !names.contains(name) { names.append(name) }
        return names
    }
}

/// `--network-alias` and `network connect --alias`: names a container has on one network.
public func validateAliases(_ aliases: [String], on network: Network) throws(ModelError) {
    guard !aliases.isEmpty else { return }
    guard network.hasNames else { throw .aliasWithoutNames }
    for alias in aliases {
        do { try validateHostname(alias) } catch { throw .invalidAlias(alias) }
    }
}

extension Network {
    /// Whether its containers find each other by name (Docker: every network but the
    /// default bridge, host and none).
    public var hasNames: Bool { name != Network.defaultName && driver.hasEndpoints }
}

extension ExtraHost: CustomStringConvertible {
    /// As Docker's HostConfig.ExtraHosts shows it: "NAME:ADDRESS".
    public var description: String {
        switch address {
        case .ip(let ip): "\(name):\(ip)"
        case .hostGateway: "\(name):host-gateway"
        }
    }
}
