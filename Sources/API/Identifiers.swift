import FoundationEssentials
import Model

/// What fills a route's ":name" path segments: the typed IDs below, or nothing.
public protocol PathParameters: Sendable, Hashable {
    /// The names of the segments they fill, in the order the pattern has them.
    static var names: [String] { get }
    /// Their values in that order, not escaped.
    var values: [String] { get }
    /// Reads them back from the values the agent's router matched, in `names`' order.
    init(values: [String])
}

extension PathParameters {
    /// From the segments the agent's router matched, still percent-encoded.
    public init(encoded: [String]) { self.init(values: encoded.map { percentDecoded($0) ?? $0 }) }
}

/// A route without path parameters.
public struct NoParameters: PathParameters {
    public static let names: [String] = []
    public var values: [String] { [] }
    public init() {}
    public init(values: [String]) {}
}

/// A container or network as the API names it: its name, its ID, or a prefix of its ID.
/// `Object` only tells the two apart.
public struct Reference<Object: Referable>: PathParameters, CustomStringConvertible {
    public static var names: [String] { [Object.pathParameter] }
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(values: [String]) { self.init(values[0]) }
    public var values: [String] { [rawValue] }
    public var description: String { rawValue }
}

/// What the API names by Reference.
public protocol Referable: Sendable {
    /// The name of its path segment, e.g. "container" in containers/:container.
    static var pathParameter: String { get }
}

extension Container: Referable { public static let pathParameter = "container" }
extension Network: Referable { public static let pathParameter = "network" }

public typealias ContainerReference = Reference<Container>
public typealias NetworkReference = Reference<Network>

/// A container interface another runtime made: its container ID (CNI_CONTAINERID) and
/// the interface's name in the container (CNI_IFNAME).
public struct AttachmentID: PathParameters, CustomStringConvertible {
    public static let names = ["container", "interface"]
    public var containerID: String
    public var interface: String
    public init(containerID: String, interface: String) {
        self.containerID = containerID
        self.interface = interface
    }
    public init(values: [String]) { self.init(containerID: values[0], interface: values[1]) }
    public var values: [String] { [containerID, interface] }
    /// "containerID/interface", as Attachment.id and AttachmentCollection.keep write it.
    public var description: String { containerID + "/" + interface }
}
