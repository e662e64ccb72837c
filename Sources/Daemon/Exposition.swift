/// Metric families in the Prometheus data model and their two text formats: Prometheus
/// text 0.0.4 and OpenMetrics 1.0, chosen from the scraper's Accept header.
public struct MetricFamily {
    enum Kind: String { case counter, gauge, histogram }

    /// The family's name; counters' samples add "_total".
    var name: String
    var help: String
    var kind: Kind
    var samples: [Sample] = []

    struct Sample {
        var labels: [(String, String)]
        /// Already formatted, so 64-bit counters keep every digit.
        var value: String
        /// A histogram's "_bucket", "_sum" or "_count".
        var suffix = ""
    }

    mutating func add(_ labels: [(String, String)], _ value: some BinaryInteger) {
        samples.append(Sample(labels: labels, value: String(value)))
    }

    mutating func add(_ labels: [(String, String)], seconds: Double) {
        samples.append(Sample(labels: labels, value: "\(seconds)"))
    }

    /// A histogram's series for one label set: cumulative buckets (`counts[i]` observations
    /// at most `bounds[i]`, the last count for +Inf), then its sum and count.
    mutating func addHistogram(_ labels: [(String, String)], bounds: [Double], counts: [UInt64], sum: Double) {
        var cumulative: UInt64 = 0
        for (index, count) in counts.enumerated() {
            cumulative &+= count
            let bound = index < bounds.count ? "\(bounds[index])" : "+Inf"
            samples.append(Sample(labels: labels + [("le", bound)], value: String(cumulative), suffix: "_bucket"))
        }
        samples.append(Sample(labels: labels, value: "\(sum)", suffix: "_sum"))
        samples.append(Sample(labels: labels, value: String(cumulative), suffix: "_count"))
    }
}

public enum ExpositionFormat: Sendable {
    case prometheus, openMetrics

    /// OpenMetrics when the Accept header asks for it, else the classic text format.
    public init(accept: String?) {
        self = (accept ?? "").contains("application/openmetrics-text") ? .openMetrics : .prometheus
    }

    public var contentType: String {
        switch self {
        case .prometheus: "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    public func render(_ families: [MetricFamily]) -> String {
        var text = ""
        text.reserveCapacity(families.reduce(0) { $0 + $1.samples.count } * 160)
        for family in families {
            // Prometheus text names a counter family with its _total; OpenMetrics without.
            let sampleName = family.kind == .counter ? family.name + "_total" : family.name
            let familyName = self == .openMetrics ? family.name : sampleName
            text +=
                "# HELP \(familyName) \(escaped(family.help, quotes: false))\n# TYPE \(familyName) \(family.kind.rawValue)\n"
            for sample in family.samples {
                text += sampleName
                text += sample.suffix
                if !sample.labels.isEmpty {
                    text += "{"
                    for (index, (name, value)) in sample.labels.enumerated() {
                        if index > 0 { text += "," }
                        text += name
                        text += "=\""
                        text += escaped(value, quotes: true)
                        text += "\""
                    }
                    text += "}"
                }
                text += " "
                text += sample.value
                text += "\n"
            }
        }
        if self == .openMetrics { text += "# EOF\n" }
        return text
    }

    /// Backslash and newline (and in label values the double quote) are escaped; most
    /// values have none, and are returned as they are.
    private func escaped(_ value: String, quotes: Bool) -> String {
        guard
            value.utf8.contains(where: {
                $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\n") || (quotes && $0 == UInt8(ascii: "\""))
            })
        else { return value }
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\"" where quotes: result += "\\\""
            default: result.append(character)
            }
        }
        return result
    }
}
