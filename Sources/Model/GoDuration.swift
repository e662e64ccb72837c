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
