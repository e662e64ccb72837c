import FoundationEssentials
import Glibc

/// The part of Go's text/template that Docker's `inspect -f` and `--format` are mostly used
/// with: `{{.A.B}}`, `{{.}}`, `{{json .A}}`, `{{range .A}}...{{end}}` (over a list, or a map's
/// values in key order), `{{index .A "key"}}`, a method of one argument (`{{.Label "key"}}`),
/// `{{-` and `-}}` (trim the spaces beside) and plain text. The dot is a document (a map: a
/// key it lacks is "<no value>") or a listing's Record (as Docker's Go structs: a field it
/// lacks is an error).
struct Template {
    /// A field reference as written, and where it starts: Go's errors name both.
    struct Reference {
        var path: [String]
        var text: String
        var line: Int
        var column: Int
    }

    indirect enum Node {
        case text(String)
        case value(Reference, json: Bool)
        case index(Reference, key: String)
        case call(Reference, argument: String)
        case range(Reference, body: [Node])
    }

    /// A row of a listing, as Docker's formatter contexts are: fields (strings) and methods
    /// of one string (`Label`).
    struct Record: Sendable {
        var fields: [String: String]
        var methods: [String: @Sendable (String) -> String] = [:]
    }

    let nodes: [Node]

    init(_ source: String) throws(TemplateError) {
        var tokens = Template.tokenize(source)[...]
        nodes = try Template.parse(&tokens, source: source, inRange: false)
    }

    func render(_ root: Any) throws(TemplateError) -> String {
        var output = ""
        try Template.render(nodes, dot: root, header: false, into: &output)
        return output
    }

    /// A table's header row: the template over the fields' titles, as Docker renders it; what
    /// a title can't stand for (a method, `{{json .}}`) ends the row there, as in Docker.
    func renderHeader(_ titles: [String: String]) -> String {
        var output = ""
        try? Template.render(nodes, dot: Record(fields: titles), header: true, into: &output)
        return output
    }

    // MARK: Parsing

    private enum Token {
        case text(String)
        /// The action's words, as substrings of the source (their indices place them).
        case action([Substring])
    }

    private static func tokenize(_ source: String) -> [Token] {
        var tokens: [Token] = []
        var rest = source[...]
        var trimNext = false
        func addText(_ text: Substring) {
            let kept = trimNext ? text.drop { $0.isWhitespace } : text
            if !kept.isEmpty { tokens.append(.text(String(kept))) }
        }
        while let open = rest.firstRange(of: "{{") {
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else { break }
            var inside = rest[open.upperBound..<close.lowerBound]
            var text = rest[..<open.lowerBound]
            if inside.hasPrefix("- ") {
                text = trimmedEnd(text)
                inside = inside.dropFirst()
            }
            addText(text)
            trimNext = inside.hasSuffix(" -")
            if trimNext { inside = inside.dropLast() }
            tokens.append(.action(words(inside)))
            rest = rest[close.upperBound...]
        }
        addText(rest)
        return tokens
    }

    private static func trimmedEnd(_ text: Substring) -> Substring {
        var text = text
        while text.last?.isWhitespace == true { text = text.dropLast() }
        return text
    }

    /// Words split at spaces, a "quoted string" being one word.
    private static func words(_ action: Substring) -> [Substring] {
        var words: [Substring] = []
        var index = action.startIndex
        while index < action.endIndex {
            if action[index].isWhitespace {
                index = action.index(after: index)
                continue
            }
            var end = action.index(after: index)
            if action[index] == "\"" {
                var escaped = false
                while end < action.endIndex, escaped || action[end] != "\"" {
                    escaped = !escaped && action[end] == "\\"
                    end = action.index(after: end)
                }
                if end < action.endIndex { end = action.index(after: end) }
            } else {
                while end < action.endIndex, !action[end].isWhitespace { end = action.index(after: end) }
            }
            words.append(action[index..<end])
            index = end
        }
        return words
    }

    private static func parse(
        _ tokens: inout ArraySlice<Token>, source: String, inRange: Bool
    ) throws(TemplateError) -> [Node] {
        var nodes: [Node] = []
        while let token = tokens.popFirst() {
            guard case .action(let words) = token else {
                if case .text(let text) = token { nodes.append(.text(text)) }
                continue
            }
            func reference(_ word: Substring) throws(TemplateError) -> Reference {
                try Template.reference(word, source: source)
            }
            switch (words.first, words.count) {
            case ("end"?, 1):
                guard inRange else { throw TemplateError(source, at: words[0], "unexpected {{end}}") }
                return nodes
            case ("range"?, 2):
                let body = try parse(&tokens, source: source, inRange: true)
                nodes.append(.range(try reference(words[1]), body: body))
            case ("json"?, 2): nodes.append(.value(try reference(words[1]), json: true))
            case ("index"?, 3): nodes.append(.index(try reference(words[1]), key: try string(words[2], source)))
            case (let first?, _) where !first.hasPrefix(".") && !["range", "json", "index", "end"].contains(first):
                throw TemplateError(source, at: first, "function \"\(first)\" not defined")
            case (_, 1): nodes.append(.value(try reference(words[0]), json: false))
            case (_, 2) where words[0].hasPrefix("."):
                let method = try reference(words[0])
                guard !method.path.isEmpty else {
                    throw TemplateError(source, at: words[0], "can't give argument to non-function \(words[0])")
                }
                nodes.append(.call(method, argument: try string(words[1], source)))
            default:
                let action = words.map(String.init).joined(separator: " ")
                throw TemplateError(source, at: words.first, "unsupported action {{\(action)}}")
            }
        }
        if inRange { throw TemplateError(source, at: nil, "unexpected EOF") }
        return nodes
    }

    private static func reference(_ word: Substring, source: String) throws(TemplateError) -> Reference {
        guard word.hasPrefix(".") else {
            throw TemplateError(source, at: word, "\"\(word)\" is not a field reference")
        }
        let (line, column) = position(of: word.startIndex, in: source)
        return Reference(
            path: word.split(separator: ".").map(String.init), text: String(word), line: line, column: column)
    }

    /// A "quoted" argument, Go's escapes \" and \\ undone.
    private static func string(_ word: Substring, _ source: String) throws(TemplateError) -> String {
        guard word.count >= 2, word.hasPrefix("\""), word.hasSuffix("\"") else {
            throw TemplateError(source, at: word, "expected a quoted string, got \(word)")
        }
        var result = ""
        var escaped = false
        for character in word.dropFirst().dropLast() {
            if !escaped && character == "\\" {
                escaped = true
            } else {
                (result, escaped) = (result + String(character), false)
            }
        }
        return result
    }

    /// Go's place of a node: its line (from 1) and its byte offset in that line.
    fileprivate static func position(of index: String.Index, in source: String) -> (line: Int, column: Int) {
        let before = source[..<index]
        let lineStart = before.lastIndex(of: "\n").map { before.index(after: $0) } ?? before.startIndex
        return (before.count { $0 == "\n" } + 1, before[lineStart...].utf8.count)
    }

    // MARK: Rendering

    /// What `path` names from `dot`: a map's missing key is nil ("<no value>"); a Record's
    /// missing field, or a field of a plain value, is Go's error.
    private static func lookup(_ reference: Reference, in dot: Any) throws(TemplateError) -> Any? {
        var current: Any? = dot
        for key in reference.path {
            switch current {
            case nil, is JSONNull: return nil
            case let map as [String: Any]: current = map[key]
            case let record as Record:
                if let value = record.fields[key] {
                    current = value
                } else if record.methods[key] != nil {
                    throw TemplateError(reference, "wrong number of args for \(key): want 1 got 0")
                } else {
                    throw TemplateError(reference, "can't evaluate field \(key)")
                }
            default: throw TemplateError(reference, "can't evaluate field \(key)")
            }
        }
        return current
    }

    /// Renders into `output` as it goes: a header row keeps what came before an error.
    private static func render(
        _ nodes: [Node], dot: Any, header: Bool, into output: inout String
    ) throws(TemplateError) {
        for node in nodes {
            switch node {
            case .text(let text): output += text
            case .value(let reference, let asJSON):
                let value = try lookup(reference, in: dot)
                if asJSON && header && !(value is String) { throw TemplateError(reference, "json of a header") }
                output += asJSON && !header ? jsonText(value) : plainText(value)
            case .index(let reference, let key):
                output += plainText((try lookup(reference, in: dot) as? [String: Any])?[key])
            case .call(let reference, let argument):
                let name = reference.path.last ?? ""
                guard let method = (try lookup(parent(of: reference), in: dot) as? Record)?.methods[name] else {
                    throw TemplateError(reference, "can't evaluate field \(name)")
                }
                output += method(argument)
            case .range(let reference, let body):
                let value = try lookup(reference, in: dot)
                let items: [Any] =
                    if let list = value as? [Any] { list } else if let map = value as? [String: Any] {
                        map.keys.sorted().map { map[$0]! }
                    } else { [] }
                for item in items { try render(body, dot: item, header: header, into: &output) }
            }
        }
    }

    private static func parent(of reference: Reference) -> Reference {
        var parent = reference
        parent.path.removeLast()
        return parent
    }

    /// Go prints nil as "<no value>" and maps and lists in its own way; JSON is close enough for those.
    private static func plainText(_ value: Any?) -> String {
        switch value {
        case nil, is JSONNull: "<no value>"
        case let text as String: text
        case let flag as Bool: flag ? "true" : "false"
        default: jsonText(value)
        }
    }

    private static func jsonText(_ value: Any?) -> String {
        let object: Any? = if let record = value as? Record { record.fields } else { value }
        guard let object else { return "null" }
        return goJSON(object, indent: nil)
    }
}

/// A template that does not parse, or names what its data lacks, in Go's words:
/// `template: :1:2: executing "" at <.Foo>: can't evaluate field Foo`.
struct TemplateError: Error, CustomStringConvertible {
    let description: String

    /// A parse error, at the word (or the end).
    init(_ source: String, at word: Substring?, _ message: String) {
        let line = word.map { Template.position(of: $0.startIndex, in: source).line } ?? source.count { $0 == "\n" } + 1
        description = "template: :\(line): \(message)"
    }

    /// An execution error, at the reference.
    init(_ reference: Template.Reference, _ message: String) {
        description =
            "template: :\(reference.line):\(reference.column): executing \"\" at <\(reference.text)>: \(message)"
    }
}

extension Failure {
    /// Docker's CLI puts its own words before a template's error (`template parsing error`).
    init(_ error: TemplateError, _ context: String) { self.init(message: "\(context): \(error)", code: 1) }
}
