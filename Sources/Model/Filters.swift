import FoundationEssentials

/// `--filter KEY=VALUE` (repeatable), as Docker reads it: the key before the first '=',
/// lower-cased, key and value trimmed of spaces; the values of one key are alternatives (any
/// may match), different keys must all match. `Key` is the keys a command accepts.
public struct Filters<Key: RawRepresentable & CaseIterable & Hashable & Sendable>: Sendable, Equatable
where Key.RawValue == String {
    public private(set) var values: [Key: [String]] = [:]

    public init(_ filters: [String]) throws(ModelError) {
        for filter in filters {
            guard let equals = filter.firstIndex(of: "=") else {
                throw .invalidFlag("--filter", filter, "bad format of filter (expected name=value)")
            }
            let name = filter[..<equals].trimmingSpaces().lowercased()
            guard let key = Key(rawValue: name) else { throw .invalidFilter(name) }
            values[key, default: []].append(filter[filter.index(after: equals)...].trimmingSpaces())
        }
    }

    public subscript(_ key: Key) -> [String]? { values[key] }

    /// Whether `matches` accepts the values of every key given.
    public func allMatch(_ matches: (Key, [String]) -> Bool) -> Bool {
        values.allSatisfy { key, wanted in matches(key, wanted) }
    }
}

/// Docker's ways to match a filter's value.
public enum FilterMatch {
    /// `name=`, `id=`: the value itself, else the value as an unanchored regular expression
    /// (`web` is a substring, `^web$` the whole name); one that does not compile matches
    /// nothing (Docker's filters.Args.Match).
    public static func pattern(_ pattern: String, _ text: String) -> Bool {
        pattern == text || (try? Regex(pattern)).map { text.contains($0) } == true
    }

    /// `label=KEY` or `label=KEY=VALUE`, all of them (Docker's MatchKVList): true when none is
    /// given, false for no labels.
    public static func labels(_ wanted: [String], _ labels: [String: String]?) -> Bool {
        guard !wanted.isEmpty else { return true }
        guard let labels, !labels.isEmpty else { return false }
        return wanted.allSatisfy { pair in
            guard let equals = pair.firstIndex(of: "=") else { return labels[pair] != nil }
            return labels[String(pair[..<equals])] == String(pair[pair.index(after: equals)...])
        }
    }
}
