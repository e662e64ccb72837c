import Foundation

/// The part of Go's text/template that `inspect -f` is mostly used with:
/// `{{.A.B}}`, `{{.}}`, `{{json .A}}`, `{{range .A}}...{{end}}` (over a list, or a map's
/// values in key order), `{{index .A "key"}}` and plain text.
struct Template {
    indirect enum Node {
        case text(String)
        case value(path: [String], json: Bool)
        case index(path: [String], key: String)
        case range(path: [String], body: [Node])
    }

    let nodes: [Node]

    init(_ source: String) throws {
        var tokens = Template.tokenize(source)[...]
        nodes = try Template.parse(&tokens, source: source, inRange: false)
    }

    func render(_ root: Any) throws -> String { try Template.render(nodes, dot: root) }

    private enum Token {
        case text(String)
        case action(String)
    }

    private static func tokenize(_ source: String) -> [Token] {
        var tokens: [Token] = []
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { tokens.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                tokens.append(.text(String(rest[open.lowerBound...])))
                return tokens
            }
            tokens.append(.action(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { tokens.append(.text(String(rest))) }
        return tokens
    }

    private static func parse(_ tokens: inout ArraySlice<Token>, source: String, inRange: Bool) throws -> [Node] {
        var nodes: [Node] = []
        while let token = tokens.popFirst() {
            switch token {
            case .text(let text): nodes.append(.text(text))
            case .action(let action):
                let words = action.split(separator: " ").map(String.init)
                switch words.first {
                case "end":
                    guard inRange else {
                        throw Failure(message: "template: unexpected {{end}} in \"\(source)\"", code: 1)
                    }
                    return nodes
                case "range" where words.count == 2:
                    let body = try parse(&tokens, source: source, inRange: true)
                    nodes.append(.range(path: try path(words[1], source), body: body))
                case "json" where words.count == 2:
                    nodes.append(.value(path: try path(words[1], source), json: true))
                case "index" where words.count == 3:
                    let key = words[2].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                    nodes.append(.index(path: try path(words[1], source), key: key))
                default:
                    guard words.count == 1 else {
                        throw Failure(message: "template: unsupported action {{\(action)}}", code: 1)
                    }
                    nodes.append(.value(path: try path(words[0], source), json: false))
                }
            }
        }
        if inRange { throw Failure(message: "template: missing {{end}} in \"\(source)\"", code: 1) }
        return nodes
    }

    private static func path(_ word: String, _ source: String) throws -> [String] {
        guard word.hasPrefix(".") else {
            throw Failure(message: "template: \"\(word)\" is not a field reference in \"\(source)\"", code: 1)
        }
        return word.split(separator: ".").map(String.init)
    }

    private static func lookup(_ path: [String], in dot: Any) -> Any? {
        var current: Any? = dot
        for key in path { current = (current as? [String: Any])?[key] }
        return current
    }

    private static func render(_ nodes: [Node], dot: Any) throws -> String {
        var output = ""
        for node in nodes {
            switch node {
            case .text(let text): output += text
            case .value(let path, let asJSON):
                let value = lookup(path, in: dot)
                output += asJSON ? jsonText(value) : plainText(value)
            case .index(let path, let key):
                output += plainText((lookup(path, in: dot) as? [String: Any])?[key])
            case .range(let path, let body):
                let value = lookup(path, in: dot)
                let items: [Any] =
                    if let list = value as? [Any] { list } else if let map = value as? [String: Any] {
                        map.keys.sorted().map { map[$0]! }
                    } else { [] }
                for item in items { output += try render(body, dot: item) }
            }
        }
        return output
    }

    /// Go prints nil as "<no value>" and maps and lists in its own way; JSON is close enough for those.
    private static func plainText(_ value: Any?) -> String {
        switch value {
        case nil: "<no value>"
        case let text as String: text
        case let flag as Bool: flag ? "true" : "false"
        case let number as NSNumber: number.stringValue
        default: jsonText(value)
        }
    }

    private static func jsonText(_ value: Any?) -> String {
        guard let value else { return "null" }
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: options) else {
            return "\(value)"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
