/// A transport protocol of a published port.
public enum PortProtocol: String, Codable, Sendable, CaseIterable, Comparable {
    case tcp, udp
    public static func < (l: Self, r: Self) -> Bool { l.rawValue < r.rawValue }
}

/// One `-p` request for one container port, before a host port is chosen.
public struct PortRequest: Hashable, Codable, Sendable {
    public var proto: PortProtocol
    public var containerPort: UInt16
    /// nil: none given, the daemon's default (`ip` in daemon.json, else every address of
    /// each family the container has); an address given is that family's alone.
    public var hostIP: IPAddress?
    /// The host ports acceptable for this binding; nil means any free ephemeral port.
    public var hostPorts: ClosedRange<UInt16>?

    public init(
        proto: PortProtocol, containerPort: UInt16, hostIP: IPAddress? = nil, hostPorts: ClosedRange<UInt16>? = nil
    ) {
        self.proto = proto
        self.containerPort = containerPort
        self.hostIP = hostIP
        self.hostPorts = hostPorts
    }

    public init(proto: PortProtocol, containerPort: UInt16, hostIP: IPv4Address, hostPorts: ClosedRange<UInt16>? = nil)
    {
        // Assigned, not delegated: Swift 6's debug code loads a delegated init's result
        // (16-byte aligned, for IPv6Address's UInt128) from a slot it aligned to 8 bytes.
        self.proto = proto
        self.containerPort = containerPort
        self.hostIP = .v4(hostIP)
        self.hostPorts = hostPorts
    }

    /// Parses Docker's `[HOSTIP:][HOSTPORT[-END]:]CONTAINERPORT[-END][/tcp|/udp]`; an IPv6
    /// HOSTIP goes in brackets (`[::1]:8080:80`), or bare when every field is given, as
    /// go-connections' ParsePortSpec splits it. Ranges expand to one request per container
    /// port; a host range with a single container port means "any free port of that range".
    public static func parse(_ spec: String) throws(ModelError) -> [PortRequest] {
        func fail(_ rule: String) -> ModelError { .invalidPortSpec(spec, rule) }
        var body = Substring(spec)
        var proto = PortProtocol.tcp
        if let slash = body.lastIndex(of: "/") {
            let name = body[body.index(after: slash)...].lowercased()
            guard let parsed = PortProtocol(rawValue: name) else {
                throw fail("protocol \"\(name)\" must be tcp or udp")
            }
            proto = parsed
            body = body[..<slash]
        }
        let fields = body.split(separator: ":", omittingEmptySubsequences: false)
        let containerField = fields[fields.count - 1]
        let hostField = fields.count > 1 ? fields[fields.count - 2] : nil
        let hostIP = fields.count > 2 ? try parseHostIP(fields.dropLast(2).joined(separator: ":")) : nil
        guard let containerPorts = try parseRange(containerField, allowZero: false, spec: spec) else {
            throw fail("a container port is required")
        }
        let hostPorts = try hostField.flatMap { f throws(ModelError) in try parseRange(f, allowZero: false, spec: spec)
        }

        let count = containerPorts.count
        if let hostPorts, hostPorts.count != count, count != 1 {
            throw fail(
                "host port range \(hostPorts.lowerBound)-\(hostPorts.upperBound) and container port range must have the same size"
            )
        }
        return containerPorts.enumerated().map { offset, port in
            var range = hostPorts
            if let hostPorts, count > 1 {
                let p = hostPorts.lowerBound + UInt16(offset)
                range = p...p
            }
            return PortRequest(proto: proto, containerPort: port, hostIP: hostIP, hostPorts: range)
        }
    }

    /// HOSTIP: an IPv4 address, an IPv6 one in brackets or bare; "" is none. Refused with
    /// ParsePortSpec's words.
    public static func parseHostIP(_ text: String) throws(ModelError) -> IPAddress? {
        var address = Substring(text)
        if address.first == "[" {
            guard let close = address.firstIndex(of: "]") else {
                throw .invalidHostIP(text, reason: "address \(text):: missing ']' in address")
            }
            guard address.index(after: close) == address.endIndex else {
                throw .invalidHostIP(text, reason: "address \(text):: missing port in address")
            }
            address = address[address.index(after: address.startIndex)..<close]
            guard !address.contains("[") else {
                throw .invalidHostIP(text, reason: "address \(text):: unexpected '[' in address")
            }
        }
        if address.isEmpty { return nil }
        if let ip = IPv4Address(address) { return .v4(ip) }
        // inet_pton takes neither a zone ("%eth0") nor brackets, as Go's ParseIP; an
        // IPv4-mapped address is the IPv4 one, as there.
        if let ip = IPv6Address(address) {
            return ip.value >> 32 == 0xffff ? .v4(IPv4Address(UInt32(truncatingIfNeeded: ip.value))) : .v6(ip)
        }
        throw .invalidHostIP(String(address), reason: nil)
    }

    /// "80" or "8000-8010"; "" is nil (no port given).
    static func parseRange(
        _ field: Substring, allowZero: Bool, spec: String
    ) throws(ModelError) -> ClosedRange<UInt16>? {
        if field.isEmpty { return nil }
        let ends = field.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count <= 2 else { throw .invalidPortSpec(spec, "\"\(field)\" is not a port or a port range") }
        let numbers = try ends.map { e throws(ModelError) -> UInt16 in
            guard !e.isEmpty, e.count <= 5, e.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt16(e), n > 0 else {
                throw .invalidPortSpec(spec, "port \"\(e)\" must be a number from 1 to 65535")
            }
            return n
        }
        guard numbers.first! <= numbers.last! else {
            throw .invalidPortSpec(spec, "range \(field) ends before it starts")
        }
        return numbers.first!...numbers.last!
    }
}

/// A published port: host address and port bound to a container port. A port published
/// on both families (`-p 8080:80` of a dual-stack container) is two mappings, one per
/// family, with the same host port.
public struct PortMapping: Hashable, Codable, Sendable, CustomStringConvertible {
    public var proto: PortProtocol
    public var containerPort: UInt16
    public var hostIP: IPAddress
    public var hostPort: UInt16

    public init(proto: PortProtocol, containerPort: UInt16, hostIP: IPAddress, hostPort: UInt16) {
        self.proto = proto
        self.containerPort = containerPort
        self.hostIP = hostIP
        self.hostPort = hostPort
    }

    public init(proto: PortProtocol, containerPort: UInt16, hostIP: IPv4Address, hostPort: UInt16) {
        // Assigned, not delegated (see PortRequest's).
        self.proto = proto
        self.containerPort = containerPort
        self.hostIP = .v4(hostIP)
        self.hostPort = hostPort
    }

    /// `docker port` style: "80/tcp -> 0.0.0.0:5000", "80/tcp -> [::]:5000".
    public var description: String { "\(containerPort)/\(proto.rawValue) -> \(hostIP.with(port: hostPort))" }
    /// `docker ps` style: "0.0.0.0:5000->80/tcp".
    public var short: String { "\(hostIP.with(port: hostPort))->\(containerPort)/\(proto.rawValue)" }

    /// Two bindings clash when protocol, port and family match and one address covers the
    /// other: [::]:P and 0.0.0.0:P are two sockets (the IPv6 one IPV6_V6ONLY).
    public func conflicts(with other: PortMapping) -> Bool {
        hostSide.conflicts(with: other.hostSide)
    }

    /// Where the binding answers on the host.
    public var hostSide: HostPort { HostPort(proto, hostIP, hostPort) }

    /// `docker ps`'s PORTS column: sorted (IPv4 first), and runs of consecutive host ports
    /// that map to consecutive container ports (same address and protocol) merged, as
    /// Docker shows them: "0.0.0.0:6000-6001->7000-7001/tcp".
    public static func summary(_ mappings: [PortMapping]) -> String {
        let sorted = mappings.sorted {
            ($0.hostIP, $0.proto.rawValue, $0.hostPort) < ($1.hostIP, $1.proto.rawValue, $1.hostPort)
        }
        var runs: [(first: PortMapping, last: PortMapping)] = []
        for mapping in sorted {
            if let run = runs.last, run.last.hostIP == mapping.hostIP, run.last.proto == mapping.proto,
                run.last.hostPort &+ 1 == mapping.hostPort, run.last.containerPort &+ 1 == mapping.containerPort
            {
                runs[runs.count - 1].last = mapping
            } else {
                runs.append((mapping, mapping))
            }
        }
        return runs.map { run in
            guard run.first != run.last else { return run.first.short }
            return "\(run.first.hostIP.with(ports: run.first.hostPort...run.last.hostPort))->"
                + "\(run.first.containerPort)-\(run.last.containerPort)/\(run.first.proto.rawValue)"
        }.joined(separator: ", ")
    }
}

/// A published port's host side: protocol, address and port (what its counters and the
/// socket holding it are keyed by).
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public var proto: PortProtocol
    public var ip: IPAddress
    public var port: UInt16

    public init(_ proto: PortProtocol, _ ip: IPAddress, _ port: UInt16) {
        (self.proto, self.ip, self.port) = (proto, ip, port)
    }

    public init(_ proto: PortProtocol, _ ip: IPv4Address, _ port: UInt16) {
        (self.proto, self.ip, self.port) = (proto, .v4(ip), port)  // not delegated (see PortRequest's)
    }

    /// "0.0.0.0:8080", "[::]:8080".
    public var description: String { ip.with(port: port) }

    /// Same protocol, port and family, and one address covers the other.
    public func conflicts(with other: HostPort) -> Bool {
        proto == other.proto && port == other.port && ip.family == other.ip.family
            && (ip == other.ip || ip.isUnspecified || other.ip.isUnspecified)
    }
}

/// Ports Docker hands out for an empty HOSTPORT (Linux's default ephemeral range).
public let ephemeralPorts: ClosedRange<UInt16> = 32768...60999

/// A container port that `-P` publishes: `--expose` and the container side of every `-p`
/// (Docker's Config.ExposedPorts, keyed "80/tcp").
public struct ExposedPort: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    public var proto: PortProtocol
    public var port: UInt16

    public init(_ proto: PortProtocol, _ port: UInt16) { (self.proto, self.port) = (proto, port) }

    public var description: String { "\(port)/\(proto.rawValue)" }

    public static func < (a: ExposedPort, b: ExposedPort) -> Bool {
        (a.port, a.proto.rawValue) < (b.port, b.proto.rawValue)
    }

    /// `--expose PORT[-END][/PROTO]`: one per port of the range.
    public static func parse(_ spec: String) throws(ModelError) -> [ExposedPort] {
        func fail(_ reason: String) -> ModelError {
            .invalidFlag("--expose", spec, "invalid range format for --expose: \(spec), error: \(reason)")
        }
        let parts = spec.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let proto = parts.count == 2 ? PortProtocol(rawValue: parts[1].lowercased()) : .tcp else {
            throw fail("protocol \"\(parts[1])\" must be tcp or udp")
        }
        let ends = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        let numbers = ends.compactMap { end -> UInt16? in
            end.count <= 5 && !end.isEmpty && end.allSatisfy { $0.isASCII && $0.isNumber } ? UInt16(end) : nil
        }
        guard (1...2).contains(ends.count), numbers.count == ends.count, numbers.allSatisfy({ $0 > 0 }) else {
            throw fail("strconv.ParseUint: parsing \"\(parts[0])\": invalid syntax")
        }
        guard numbers[0] <= numbers[numbers.count - 1] else {
            throw fail("invalid range: \(parts[0]) ends before it starts")
        }
        return (numbers[0]...numbers[numbers.count - 1]).map { ExposedPort(proto, $0) }
    }
}
