/// Metric families in the Prometheus data model and their two text formats: Prometheus
/// text 0.0.4 and OpenMetrics 1.0, chosen from the scraper's Accept header.
struct MetricFamily {
    enum Kind: String { case counter, gauge }

    /// The family's name; counters' samples add "_total".
    var name: String
    var help: String
    var kind: Kind
    var samples: [Sample] = []

    struct Sample {
        var labels: [(String, String)]
        /// Already formatted, so 64-bit counters keep every digit.
        var value: String
    }

    mutating func add(_ labels: [(String, String)], _ value: some BinaryInteger) {
        samples.append(Sample(labels: labels, value: String(value)))
    }

    mutating func add(_ labels: [(String, String)], seconds: Double) {
        samples.append(Sample(labels: labels, value: "\(seconds)"))
    }
}

enum ExpositionFormat {
    case prometheus, openMetrics

    /// OpenMetrics when the Accept header asks for it, else the classic text format.
    init(accept: String?) {
        self = (accept ?? "").contains("application/openmetrics-text") ? .openMetrics : .prometheus
    }

    var contentType: String {
        switch self {
        case .prometheus: "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    func render(_ families: [MetricFamily]) -> String {
        var text = ""
        for family in families {
            // Prometheus text names a counter family with its _total; OpenMetrics without.
            let sampleName = family.kind == .counter ? family.name + "_total" : family.name
            let familyName = self == .openMetrics ? family.name : sampleName
            text += "# HELP \(familyName) \(escapeHelp(family.help))\n# TYPE \(familyName) \(family.kind.rawValue)\n"
            for sample in family.samples {
                text += sampleName
                if !sample.labels.isEmpty {
                    text += "{" + sample.labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                }
                text += " \(sample.value)\n"
            }
        }
        if self == .openMetrics { text += "# EOF\n" }
        return text
    }

    private func escapeLabel(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    private func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
