import FoundationEssentials

/// `network ls --filter KEY=VALUE`, as Docker reads it.
public struct NetworkFilter: Sendable, Equatable {
    public enum Key: String, CaseIterable, Sendable {
        case driver, id, label, name, type
    }

    public let filters: Filters<Key>

    public init(_ filters: [String]) throws(ModelError) {
        self.filters = try Filters(filters)
        for value in self.filters[.type] ?? [] where !["builtin", "custom"].contains(value) {
            throw .invalidFilterValue("type", value, reason: "Invalid filter: 'type'='\(value)'")
        }
    }

    /// The predefined networks (bridge, host, none) are Docker's "builtin" type.
    public func matches(_ network: Network) -> Bool {
        filters.allMatch { key, wanted in
            if key == .label { return FilterMatch.labels(wanted, network.labels) }
            return wanted.contains { value in
                switch key {
                case .driver: network.driver.dockerName == value || network.driver.rawValue == value
                case .id: network.id.hasPrefix(value)
                case .name: FilterMatch.pattern(value, network.name)
                case .type: (value == "builtin") == network.isPredefined
                case .label: false  // all at once, above
                }
            }
        }
    }
}

/// `network prune --filter`: `until=` (created before: a duration ago or a time), `label=`
/// and `label!=`, as Docker's daemon reads them. Which networks are unused is the caller's.
public struct NetworkPruneFilter: Sendable, Equatable {
    public enum Key: String, CaseIterable, Sendable {
        case until, label
        case notLabel = "label!"
    }

    public let filters: Filters<Key>
    public let until: Date?

    public init(_ filters: [String], now: Date) throws(ModelError) {
        self.filters = try Filters(filters)
        let until = self.filters[.until] ?? []
        guard until.count <= 1 else {
            throw .invalidFilterValue(
                "until", until.joined(separator: ","), reason: "more than one until filter specified")
        }
        self.until = try until.first.map { value throws(ModelError) in try DockerTimestamp.date(value, now: now) }
    }

    /// Docker's rules: created no later than `until`; every `label=` there; not every `label!=`.
    public func matches(_ network: Network) -> Bool {
        if let until, network.created > until { return false }
        if let excluded = filters[.notLabel], FilterMatch.labels(excluded, network.labels) { return false }
        return FilterMatch.labels(filters[.label] ?? [], network.labels)
    }
}
