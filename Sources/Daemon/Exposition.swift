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
        var labels: LabelSet
        var value: Value
        /// A histogram's "_bucket", "_sum" or "_count".
        var suffix = ""
    }

    /// A sample's value, kept as a number and formatted as the text is written (64-bit
    /// counters keep every digit).
    enum Value: Equatable {
        case integer(UInt64, negative: Bool)
        case double(Double)

        init(_ value: some BinaryInteger) {
            self = .integer(UInt64(value.magnitude), negative: value < 0)
        }
    }

    mutating func add(_ labels: [(String, String)], _ value: some BinaryInteger) {
        add(LabelSet(labels), value)
    }

    mutating func add(_ labels: LabelSet, _ value: some BinaryInteger) {
        samples.append(Sample(labels: labels, value: Value(value)))
    }

    mutating func add(_ labels: [(String, String)], seconds: Double) {
        samples.append(Sample(labels: LabelSet(labels), value: .double(seconds)))
    }

    /// A histogram's series for one label set: cumulative buckets (`counts[i]` observations
    /// at most `bounds[i]`, the last count for +Inf), then its sum and count.
    mutating func addHistogram(_ labels: [(String, String)], bounds: [Double], counts: [UInt64], sum: Double) {
        var cumulative: UInt64 = 0
        for (index, count) in counts.enumerated() {
            cumulative &+= count
            let bound = index < bounds.count ? "\(bounds[index])" : "+Inf"
            samples.append(
                Sample(labels: LabelSet(labels + [("le", bound)]), value: Value(cumulative), suffix: "_bucket"))
        }
        let set = LabelSet(labels)
        samples.append(Sample(labels: set, value: .double(sum), suffix: "_sum"))
        samples.append(Sample(labels: set, value: Value(cumulative), suffix: "_count"))
    }
}

/// A series' labels as the text shows them between the braces, `name="value",…`, values
/// escaped: rendered once and shared by every family of the series.
struct LabelSet {
    /// UTF-8 of the pairs; empty for none.
    private(set) var text: [UInt8] = []

    init() {}

    /// Room for `bytes` of text (a guess; it grows beyond).
    init(reserving bytes: Int) { text.reserveCapacity(bytes) }

    init(_ pairs: [(String, String)]) {
        for (name, value) in pairs { append(name, value) }
    }

    var isEmpty: Bool { text.isEmpty }

    mutating func append(_ name: String, _ value: String) {
        appendPair(name) { Exposition.appendEscaped(value, quotes: true, to: &$0) }
    }

    /// The value written as decimal digits (nothing to escape).
    mutating func append(_ name: String, _ value: some BinaryInteger) {
        appendPair(name) { Exposition.appendDecimal(UInt64(value.magnitude), negative: value < 0, to: &$0) }
    }

    private mutating func appendPair(_ name: String, _ writeValue: (inout [UInt8]) -> Void) {
        if !text.isEmpty { text.append(UInt8(ascii: ",")) }
        text.append(contentsOf: name.utf8)
        text.append(contentsOf: "=\"".utf8)
        writeValue(&text)
        text.append(UInt8(ascii: "\""))
    }

    func appending(_ pairs: [(String, String)]) -> LabelSet {
        var set = self
        for (name, value) in pairs { set.append(name, value) }
        return set
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
        String(decoding: bytes(families), as: UTF8.self)
    }

    /// The text as UTF-8, written straight into one buffer.
    public func bytes(_ families: [MetricFamily]) -> [UInt8] {
        var text: [UInt8] = []
        text.reserveCapacity(
            families.reduce(0) { total, family in
                total
                    + family.samples.reduce(family.name.utf8.count + family.help.utf8.count + 64) {
                        $0 + family.name.utf8.count + $1.labels.text.count + 40
                    }
            })
        for family in families {
            // Prometheus text names a counter family with its _total; OpenMetrics without.
            let sampleName = family.kind == .counter ? family.name + "_total" : family.name
            let familyName = self == .openMetrics ? family.name : sampleName
            text.append(contentsOf: "# HELP ".utf8)
            text.append(contentsOf: familyName.utf8)
            text.append(UInt8(ascii: " "))
            Exposition.appendEscaped(family.help, quotes: false, to: &text)
            text.append(contentsOf: "\n# TYPE ".utf8)
            text.append(contentsOf: familyName.utf8)
            text.append(UInt8(ascii: " "))
            text.append(contentsOf: family.kind.rawValue.utf8)
            text.append(UInt8(ascii: "\n"))
            let name = Array(sampleName.utf8)
            for sample in family.samples {
                text.append(contentsOf: name)
                if !sample.suffix.isEmpty { text.append(contentsOf: sample.suffix.utf8) }
                if !sample.labels.isEmpty {
                    text.append(UInt8(ascii: "{"))
                    text.append(contentsOf: sample.labels.text)
                    text.append(UInt8(ascii: "}"))
                }
                text.append(UInt8(ascii: " "))
                switch sample.value {
                case .integer(let magnitude, let negative):
                    Exposition.appendDecimal(magnitude, negative: negative, to: &text)
                case .double(let value): text.append(contentsOf: "\(value)".utf8)
                }
                text.append(UInt8(ascii: "\n"))
            }
        }
        if self == .openMetrics { text.append(contentsOf: "# EOF\n".utf8) }
        return text
    }
}

/// The text format's byte-level pieces.
enum Exposition {
    /// Backslash and newline (and in label values the double quote) are escaped; most
    /// values have none, and are copied as they are.
    static func appendEscaped(_ value: String, quotes: Bool, to text: inout [UInt8]) {
        var value = value
        value.withUTF8 { bytes in
            func escapes(_ byte: UInt8) -> Bool {
                byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\n") || (quotes && byte == UInt8(ascii: "\""))
            }
            guard bytes.contains(where: escapes) else {
                text.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                if escapes(byte) { text.append(UInt8(ascii: "\\")) }
                text.append(byte == UInt8(ascii: "\n") ? UInt8(ascii: "n") : byte)
            }
        }
    }

    /// Decimal digits of an integer, without going through a String.
    static func appendDecimal(_ magnitude: UInt64, negative: Bool, to text: inout [UInt8]) {
        if negative { text.append(UInt8(ascii: "-")) }
        guard magnitude >= 10 else {
            text.append(UInt8(ascii: "0") &+ UInt8(magnitude))
            return
        }
        // 20 digits hold UInt64.max; written from the end.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var value = magnitude
            var start = 20
            while value > 0 {
                start -= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(value % 10)
                value /= 10
            }
            text.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }
}
