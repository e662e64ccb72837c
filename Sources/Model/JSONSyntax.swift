import FoundationEssentials

/// What is wrong with JSON text and where, in the words of Foundation's JSONSerialization
/// ("Invalid value around character 8."), which FoundationEssentials doesn't have: its
/// JSONDecoder says only "not valid JSON". nil when the text parses. As Foundation's parser
/// does, a comma may close an object or an array.
public func jsonSyntaxError(_ data: Data) -> String? {
    var scanner = JSONSyntaxScanner(bytes: Array(data))
    do throws(JSONSyntaxScanner.Failure) {
        try scanner.value()
        if (try? scanner.peek()) != nil { throw JSONSyntaxScanner.Failure.invalid("Invalid value", scanner.index) }
        return nil
    } catch {
        switch error {
        case .endOfFile: return "Unexpected end of file during JSON parse."
        case .invalid(let what, let offset): return "\(what) around character \(offset)."
        }
    }
}

private struct JSONSyntaxScanner {
    enum Failure: Error {
        case endOfFile
        case invalid(String, Int)
    }

    let bytes: [UInt8]
    var index = 0
    /// Objects and arrays open around the scanner, at most 512 (Foundation's limit: the
    /// scanner recurses, and a deeper file must get an error, not overflow the stack).
    var depth = 0

    /// The next byte after blanks, not consumed.
    mutating func peek() throws(Failure) -> UInt8 {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        guard index < bytes.count else { throw .endOfFile }
        return bytes[index]
    }

    mutating func value() throws(Failure) {
        switch try peek() {
        case UInt8(ascii: "{"): try members(close: UInt8(ascii: "}"), named: true)
        case UInt8(ascii: "["): try members(close: UInt8(ascii: "]"), named: false)
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw .invalid("Invalid value", index)
        }
    }

    /// An object's (named) or an array's members, from its opening bracket to close.
    mutating func members(close: UInt8, named: Bool) throws(Failure) {
        guard depth < 512 else { throw .invalid("Too many nested arrays or dictionaries", index) }
        depth += 1
        defer { depth -= 1 }
        index += 1
        while try peek() != close {
            if named {
                guard try peek() == UInt8(ascii: "\"") else { throw .invalid("Invalid value", index) }
                try string()
                guard try peek() == UInt8(ascii: ":") else { throw .invalid("Invalid value", index) }
                index += 1
            }
            try value()
            let next = try peek()
            if next == UInt8(ascii: ",") {
                index += 1
            } else if next != close {
                throw .invalid("Invalid value", index)
            }
        }
        index += 1
    }

    mutating func string() throws(Failure) {
        index += 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                guard index + 1 < bytes.count else { throw .endOfFile }
                switch bytes[index + 1] {
                case UInt8(ascii: "u"):
                    guard index + 6 <= bytes.count else { throw .endOfFile }
                    guard bytes[index + 2..<index + 6].allSatisfy({ isHexDigit($0) }) else {
                        throw .invalid("Invalid escape sequence", index)
                    }
                    index += 6
                case let escaped where Array(#""\/bfnrt"#.utf8).contains(escaped): index += 2
                default: throw .invalid("Invalid escape sequence", index)
                }
            case ..<0x20: throw .invalid("Unescaped control character", index)
            default: index += 1
            }
        }
        throw .endOfFile
    }

    mutating func literal(_ word: String) throws(Failure) {
        let start = index
        for byte in word.utf8 {
            guard index < bytes.count else { throw .endOfFile }
            guard bytes[index] == byte else { throw .invalid("Invalid value", start) }
            index += 1
        }
    }

    /// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    mutating func number() throws(Failure) {
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        if index < bytes.count, bytes[index] == UInt8(ascii: "0"), index + 1 < bytes.count, isDigit(bytes[index + 1]) {
            throw .invalid("Number with leading zero", index + 1)
        }
        try digits()
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            try digits()
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            try digits()
        }
    }

    /// One digit at least.
    mutating func digits() throws(Failure) {
        guard index < bytes.count else { throw .endOfFile }
        guard isDigit(bytes[index]) else { throw .invalid("Invalid value", index) }
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }
}
