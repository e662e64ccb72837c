import CYAML

/// A node of a YAML document as libyaml composes it: anchors and aliases resolved, tags
/// ignored (a scalar is its text). Each node knows where it starts, for errors.
struct YAMLNode {
    enum Kind {
        /// plain: written without quotes, so `~`, `null` or nothing at all mean null.
        case scalar(String, plain: Bool)
        case sequence([YAMLNode])
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    var kind: Kind
    /// "line L, column C", from 1.
    var position: String

    /// The document in text; nil if it has none (nothing but blanks and comments).
    static func parse(_ text: String) throws(YAMLError) -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw YAMLError(description: "out of memory") }
        defer { yaml_parser_delete(&parser) }
        guard !text.isEmpty else { return nil }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { (buffer) throws(YAMLError) -> YAMLNode? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var document = try load(&parser)
            defer { yaml_document_delete(&document) }
            guard let root = yaml_document_get_root_node(&document) else { return nil }
            var next = try load(&parser)
            defer { yaml_document_delete(&next) }
            if let second = yaml_document_get_root_node(&next) { throw second.pointee.error("a second document") }
            var budget = maxNodes
            return try YAMLNode(root, in: &document, depth: 0, budget: &budget)
        }
    }

    /// A plain `~`, `null` or empty scalar: YAML's null, as for a key given no value.
    var isNull: Bool {
        if case .scalar(let text, plain: true) = kind {
            ["", "~", "null", "Null", "NULL"].contains(text)
        } else {
            false
        }
    }

    /// A mapping's values by their keys, which must be scalars and each given once.
    /// what names the node in errors.
    func mapping(_ what: String) throws(YAMLError) -> [String: YAMLNode] {
        guard case .mapping(let pairs) = kind else { throw error("\(what): expected a mapping") }
        var values: [String: YAMLNode] = [:]
        for (key, value) in pairs {
            guard case .scalar(let name, _) = key.kind else { throw key.error("\(what): expected a scalar key") }
            guard values.updateValue(value, forKey: name) == nil else {
                throw key.error("\(what): \(name) given twice")
            }
        }
        return values
    }

    /// A scalar's text; null isn't one.
    func string(_ what: String) throws(YAMLError) -> String {
        guard case .scalar(let text, _) = kind, !isNull else { throw error("\(what): expected a string") }
        return text
    }

    func error(_ message: String) -> YAMLError { YAMLError(description: "\(position): \(message)") }

    private static func load(_ parser: inout yaml_parser_t) throws(YAMLError) -> yaml_document_t {
        var document = yaml_document_t()
        guard yaml_parser_load(&parser, &document) == 1 else { throw YAMLError(parser) }
        return document
    }

    /// The nodes a document may expand to, its aliases' copies counted: a web configuration
    /// has a few dozen, and nested aliases could otherwise multiply ("billion laughs").
    static let maxNodes = 100_000

    /// Nodes refer to their children by index: an alias is a second reference to its
    /// anchor's node, so a cycle (`&a [*a]`) is possible, and depth stops it; `budget` (the
    /// nodes still allowed) stops aliases that expand too far.
    private init(
        _ node: UnsafeMutablePointer<yaml_node_t>, in document: inout yaml_document_t, depth: Int, budget: inout Int
    ) throws(YAMLError) {
        position = YAMLError.position(node.pointee.start_mark)
        guard depth < 64 else { throw node.pointee.error("nested too deeply") }
        guard budget > 0 else { throw node.pointee.error("more than \(Self.maxNodes) nodes with its aliases expanded") }
        budget -= 1
        func child(_ index: Int32) throws(YAMLError) -> YAMLNode {
            guard let child = yaml_document_get_node(&document, index) else {
                throw node.pointee.error("no node \(index)")
            }
            return try YAMLNode(child, in: &document, depth: depth + 1, budget: &budget)
        }
        switch node.pointee.type {
        case YAML_SCALAR_NODE:
            let scalar = node.pointee.data.scalar
            kind = .scalar(
                String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self),
                plain: scalar.style == YAML_PLAIN_SCALAR_STYLE)
        case YAML_SEQUENCE_NODE:
            var items: [YAMLNode] = []
            var item = node.pointee.data.sequence.items.start
            while item != node.pointee.data.sequence.items.top {
                items.append(try child(item!.pointee))
                item! += 1
            }
            kind = .sequence(items)
        case YAML_MAPPING_NODE:
            var pairs: [(key: YAMLNode, value: YAMLNode)] = []
            var pair = node.pointee.data.mapping.pairs.start
            while pair != node.pointee.data.mapping.pairs.top {
                pairs.append((try child(pair!.pointee.key), try child(pair!.pointee.value)))
                pair! += 1
            }
            kind = .mapping(pairs)
        default:
            throw node.pointee.error("an empty node")
        }
    }
}

/// Why a YAML document was refused, with where: libyaml's problem, or what was expected.
struct YAMLError: Error, CustomStringConvertible {
    var description: String

    /// libyaml's account of a failed parse.
    init(_ parser: yaml_parser_t) {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        guard parser.error != YAML_READER_ERROR else {
            // The reader (encodings) has no line and column yet, only an offset.
            description = "byte \(parser.problem_offset): \(problem)"
            return
        }
        description = "\(YAMLError.position(parser.problem_mark)): \(problem)"
        if let context = parser.context {
            description += " (\(String(cString: context)) at \(YAMLError.position(parser.context_mark)))"
        }
    }

    init(description: String) { self.description = description }

    static func position(_ mark: yaml_mark_t) -> String { "line \(mark.line + 1), column \(mark.column + 1)" }
}

extension yaml_node_t {
    fileprivate func error(_ message: String) -> YAMLError {
        YAMLError(description: "\(YAMLError.position(start_mark)): \(message)")
    }
}
