/// `network ls --filter KEY=VALUE`, as Docker reads it: values of one key are alternatives
/// (any may match), different keys must all match.
public struct NetworkFilter: Sendable, Equatable {
    public enum Key: String, CaseIterable, Sendable {
        case driver, id, label, name, type
    }

    public private(set) var values: [Key: [String]] = [:]

    public init(_ filters: [String]) throws(ModelError) {
        for filter in filters {
            guard let equals = filter.firstIndex(of: "=") else {
                throw .invalidFlag("--filter", filter, "bad format of filter (expected name=value)")
            }
            let name = String(filter[..<equals])
            guard let key = Key(rawValue: name) else {
                throw .invalidFlag("--filter", filter, "invalid filter '\(name)'")
            }
            let value = String(filter[filter.index(after: equals)...])
            if key == .type, !["builtin", "custom"].contains(value) {
                throw .invalidFlag("--filter", filter, "invalid filter: 'type'='\(value)'")
            }
            values[key, default: []].append(value)
        }
    }

    /// The predefined networks (bridge, host, none) are Docker's "builtin" type.
    public func matches(_ network: Network) -> Bool {
        values.allSatisfy { key, wanted in
            wanted.contains { value in
                switch key {
                case .driver: network.driver.dockerName == value || network.driver.rawValue == value
                case .id: network.id.hasPrefix(value)
                case .name: network.name.contains(value)
                case .type: (value == "builtin") == network.isPredefined
                case .label:
                    if let equals = value.firstIndex(of: "=") {
                        network.labels?[String(value[..<equals])] == String(value[value.index(after: equals)...])
                    } else {
                        network.labels?[value] != nil
                    }
                }
            }
        }
    }
}
