import Glibc

extension NetworkNamespace {
    public enum SocketKind: Sendable { case datagram, stream }

    /// Sockets of the namespace at path, one per kind, bound to address:port (host byte
    /// order) and non-blocking, for a server of the agent's that answers inside a container
    /// (the embedded DNS at 127.0.0.11). A socket stays in the namespace it was made in, so
    /// only their creation switches namespace, once; the caller owns the descriptors.
    public static func boundSockets(
        _ kinds: [SocketKind], address: UInt32, port: UInt16, in path: String
    ) throws -> [Int32] {
        try run(in: path) {
            var made: [Int32] = []
            do {
                for kind in kinds { made.append(try boundSocket(kind, address: address, port: port, path: path)) }
            } catch {
                made.forEach { close($0) }
                throw error
            }
            return made
        }
    }

    /// The port a socket is bound to (one the kernel picked for port 0).
    public static func localPort(of fd: Int32) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    /// One such socket, in the calling thread's namespace (`path` names it in errors).
    private static func boundSocket(_ kind: SocketKind, address: UInt32, port: UInt16, path: String) throws -> Int32 {
        let what = "\(kind == .stream ? "tcp" : "udp") \(dotted(address)):\(port) in"
        let type = (kind == .stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue))
        let fd = socket(AF_INET, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw LinkError.namespace(operation: "open socket for \(what)", path: path, errno: errno)
        }
        var one: Int32 = 1
        // A listener of an agent that restarted finds its port in TIME_WAIT.
        if kind == .stream { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        socketAddress.sin_addr.s_addr = address.bigEndian
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            let error = errno
            close(fd)
            throw LinkError.namespace(operation: "bind \(what)", path: path, errno: error)
        }
        return fd
    }
}

extension NetworkNamespace {
    /// Writes "key=value" sysctls (net.*) of the namespace at path: /proc/sys/net follows
    /// the namespace of the thread that opens it.
    public static func setSysctls(_ settings: [String], in path: String) throws {
        try run(in: path) {
            for setting in settings {
                guard let equals = setting.firstIndex(of: "=") else { continue }
                let key = String(setting[..<equals])
                let file = "/proc/sys/" + key.split(separator: ".").joined(separator: "/")
                let fd = open(file, O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { throw LinkError.file(operation: "set sysctl \(key)", path: file, errno: errno) }
                defer { close(fd) }
                let value = Array(setting[setting.index(after: equals)...].utf8) + [UInt8(ascii: "\n")]
                guard value.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == value.count else {
                    throw LinkError.file(operation: "set sysctl \(key)", path: file, errno: errno)
                }
            }
        }
    }
}
