import Glibc

/// A failed netlink, namespace or process operation, with the kernel's reason.
/// Descriptions read like `create bridge br-1234: File exists`.
public enum LinkError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An rtnetlink request: operation ("create bridge") on object ("br-1234").
    case netlink(operation: String, object: String, errno: Int32)
    /// Creating, deleting or entering the network namespace at path (or named path).
    case namespace(operation: String, path: String, errno: Int32)
    /// Preparing a container: a file or directory it needs (operation names which).
    case file(operation: String, path: String, errno: Int32)
    /// Starting command: ENOENT means not found, EACCES/ENOEXEC/EISDIR not executable.
    case spawn(command: String, errno: Int32)

    public var errno: Int32 {
        switch self {
        case .netlink(_, _, let e), .namespace(_, _, let e), .file(_, _, let e), .spawn(_, let e): return e
        }
    }

    /// The container's command was not found in $PATH (only `.spawn`).
    public var isNotFound: Bool {
        if case .spawn(_, ENOENT) = self { return true }
        return false
    }
    /// The container's command exists but cannot be executed (only `.spawn`).
    public var isNotExecutable: Bool {
        if case .spawn(_, let e) = self { return e == EACCES || e == ENOEXEC || e == EISDIR }
        return false
    }

    public var description: String {
        switch self {
        case .netlink(let operation, let object, let e):
            return "\(operation) \(object): \(LinkError.message(e))"
        case .namespace(let operation, let path, let e):
            return "\(operation) \(path): \(LinkError.message(e))"
        case .file(let operation, let path, let e):
            return "\(operation): \(path): \(LinkError.message(e))"
        case .spawn(let command, ENOENT) where !command.contains("/"):
            return "start \"\(command)\": executable file not found in $PATH"
        case .spawn(let command, EACCES):
            return "start \"\(command)\": permission denied"
        case .spawn(let command, let e):
            return "start \"\(command)\": \(LinkError.message(e))"
        }
    }

    static func message(_ e: Int32) -> String { String(cString: strerror(e)) }
}

/// Turns a C shim's "0 (or positive) / -errno" result into a Swift error.
@discardableResult
func check(_ result: Int32, _ error: (Int32) -> LinkError) throws -> Int32 {
    if result < 0 { throw error(-result) }
    return result
}
