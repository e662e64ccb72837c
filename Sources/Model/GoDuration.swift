import FoundationEssentials

/// Durations as Go's time.ParseDuration reads them ("300ms", "2s", "5m", "1h30m", "1.5h"),
/// the way Docker's and Prometheus' users write them.
public enum GoDuration {
    /// Seconds per unit, longest names first where one is a prefix of another.
    private static let units: [(String, Double)] = [
        ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
    ]

    /// The duration in seconds.
    public static func seconds(_ text: String) throws(ModelError) -> Double {
        var rest = Substring(text)
        var sign = 1.0
        if let first = rest.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { throw .invalidDuration(text, "expected a number and a unit, e.g. 30s, 5m or 120h") }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1, let value = Double(number)
            else {
                throw .invalidDuration(text, "expected a number before each unit")
            }
            rest = rest.dropFirst(number.count)
            let unitName = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard !unitName.isEmpty else { throw .invalidDuration(text, "missing unit: use ns, us, ms, s, m or h") }
            guard let (_, scale) = units.first(where: { $0.0 == unitName }) else {
                throw .invalidDuration(text, "unknown unit \"\(unitName)\": use ns, us, ms, s, m or h")
            }
            rest = rest.dropFirst(unitName.count)
            total += value * scale
        }
        return sign * total
    }
}

/// A point in time as Docker's `until` and `since` filters read one (its GetTimestamp): a
/// duration before `now` ("10m", "24h"), an RFC 3339 date or time (local time when it names
/// no zone), or Unix seconds with an optional fraction ("1700000000.5").
public enum DockerTimestamp {
    public static func date(_ value: String, now: Date, zone: TimeZone = .current) throws(ModelError) -> Date {
        let failure = ModelError.invalidFilterValue(
            "until", value, reason: "failed to parse value as time or duration: \"\(value)\"")
        if value != "0", let seconds = try? GoDuration.seconds(value) { return now - seconds }
        if value.wholeMatch(of: /[0-9]+(\.[0-9]{1,9})?/) != nil, let seconds = Double(value) {
            return Date(timeIntervalSince1970: seconds)
        }
        let pattern =
            /([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})(\.[0-9]{1,9})?)?)?)?(Z|z|[+-][0-9]{2}:[0-9]{2})?/
        guard let match = value.wholeMatch(of: pattern) else { throw failure }
        var components = DateComponents()
        components.calendar = Calendar(identifier: .gregorian)
        components.timeZone = zone
        if let offset = match.8 {
            let sign = offset.first == "-" ? -1 : 1
            let minutes = offset.count == 1 ? 0 : Int(offset.dropFirst().prefix(2))! * 60 + Int(offset.suffix(2))!
            components.timeZone = TimeZone(secondsFromGMT: sign * minutes * 60)
        }
        (components.year, components.month, components.day) = (Int(match.1)!, Int(match.2)!, Int(match.3)!)
        (components.hour, components.minute, components.second) =
            (match.4.flatMap { Int($0) } ?? 0, match.5.flatMap { Int($0) } ?? 0, match.6.flatMap { Int($0) } ?? 0)
        // A day or hour out of its range is an error, as in Go (not the next month).
        guard components.isValidDate, let date = components.date else { throw failure }
        return date + (match.7.flatMap { Double("0" + $0) } ?? 0)
    }
}
