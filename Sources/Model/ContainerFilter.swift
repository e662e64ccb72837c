/// `ps --filter KEY=VALUE`, as Docker's daemon reads it: `name=` (a pattern, see
/// FilterMatch.pattern), `id=` (a prefix), `network=` (a name or an ID prefix), `publish=`
/// (a container port or range of its published ports, `80`, `80/udp`, `8000-8080/tcp`),
/// `status=` and `exited=` (the last exit code). Values of one key are alternatives.
public struct ContainerFilter: Sendable, Equatable {
    public enum Key: String, CaseIterable, Sendable {
        case exited, id, name, network, publish, status
    }

    /// Docker's container states; only created, running and exited occur here.
    public enum State: String, CaseIterable, Sendable {
        case created, restarting, running, removing, paused, exited, dead
    }

    /// A `publish=` value: container ports and their protocol.
    struct PortFilter: Sendable, Equatable {
        var ports: ClosedRange<UInt16>
        var proto: String
    }

    public let filters: Filters<Key>
    let published: [PortFilter]
    let exitCodes: [Int32]

    public init(_ filters: [String]) throws(ModelError) {
        self.filters = try Filters(filters)
        for value in self.filters[.status] ?? [] where State(rawValue: value) == nil {
            throw .invalidFilterValue("status", value)
        }
        exitCodes = try (self.filters[.exited] ?? []).map { value throws(ModelError) in
            guard let code = Int32(value) else { throw .invalidFilterValue("exited", value) }
            return code
        }
        published = try (self.filters[.publish] ?? []).map(Self.portFilter)
    }

    /// Docker's `publish=PORT[-END][/PROTO]` (tcp by default); no host part.
    private static func portFilter(_ value: String) throws(ModelError) -> PortFilter {
        guard !value.contains(":") else {
            throw .invalidFilterValue("publish", value, reason: "filter for 'publish' should not contain ':': \(value)")
        }
        let parts = value.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let proto = parts.count > 1 && !parts[1].isEmpty ? String(parts[1]) : PortProtocol.tcp.rawValue
        func failure(_ rule: String) -> ModelError {
            .invalidFilterValue("publish", value, reason: "error while looking up for publish \(value): \(rule)")
        }
        do throws(ModelError) {
            guard let ports = try PortRequest.parseRange(parts[0], allowZero: false, spec: value) else {
                throw failure("a port is required")
            }
            return PortFilter(ports: ports, proto: proto)
        } catch {
            guard case .invalidPortSpec(_, let rule) = error else { throw error }
            throw failure(rule)
        }
    }

    /// A `status=` filter shows stopped containers without `-a`, as in Docker.
    public var includesStopped: Bool { filters[.status] != nil }

    /// `networks`: those the container is on, by ID and name (host and none by name).
    public func matches(_ container: Container, state: State, networks: [(id: String, name: String)]) -> Bool {
        filters.allMatch { key, wanted in
            switch key {
            case .exited: state != .running && exitCodes.contains(container.process.exitCode ?? 0)
            case .id: wanted.contains { container.id.hasPrefix($0) }
            case .name:
                // Docker's names start with "/": `^/web$` and `^web$` both find web.
                wanted.contains {
                    FilterMatch.pattern($0, container.name) || FilterMatch.pattern($0, "/" + container.name)
                }
            case .network: wanted.contains { value in networks.contains { $0.name == value || $0.id.hasPrefix(value) } }
            case .publish:
                published.contains { filter in
                    container.ports.contains {
                        filter.ports.contains($0.containerPort) && filter.proto == $0.proto.rawValue
                    }
                }
            case .status: wanted.contains(state.rawValue)
            }
        }
    }
}
