import CLinux
import FoundationEssentials
import Glibc
import Model
import Synchronization

/// The host ports of published ports, held the way Docker holds them when it runs without
/// its userland proxy: a socket bound to each published address and port in the agent's
/// namespace, with nothing behind it. While it is bound, no host process can bind the port
/// and the kernel never picks it as the source port of the host's own connections, whose
/// replies the uplink program would otherwise take for the published port's traffic.
/// IPv6 ports are held by IPV6_V6ONLY sockets, so that [::]:P and 0.0.0.0:P are two
/// bindings, one per family, as Docker 27 holds them.
/// TCP sockets do not listen (a stray segment that reaches the host gets a reset); UDP
/// sockets drop what they receive (a socket filter), so no queue builds up behind them.
final class HostPorts: Sendable {
    private let held = Mutex<[HostPort: Int32]>([:])

    deinit { held.withLock { for fd in $0.values { close(fd) } } }

    /// Holds the mappings' ports; a port another socket holds throws Docker's "port is
    /// already allocated", and then none of the mappings' new ports stay held.
    func hold(_ mappings: [PortMapping]) throws(ModelError) {
        var taken: [HostPort] = []
        for key in mappings.map(\.hostSide) where !isHeld(key) {
            switch HostPorts.bind(key) {
            case .success(let fd):
                held.withLock { $0[key] = fd }
                taken.append(key)
            case .failure(let error):
                release(taken)
                throw error
            }
        }
    }

    /// Holds exactly these ports (start-up, connect, disconnect); returns the ports it could
    /// not take, which stay published but unheld.
    func sync(_ mappings: [PortMapping]) -> [(HostPort, ModelError)] {
        let wanted = Set(mappings.map(\.hostSide))
        release(held.withLock { Array($0.keys) }.filter { !wanted.contains($0) })
        return wanted.filter { !isHeld($0) }.compactMap { key in
            switch HostPorts.bind(key) {
            case .success(let fd):
                held.withLock { $0[key] = fd }
                return nil
            case .failure(let error): return (key, error)
            }
        }
    }

    func release(_ mappings: [PortMapping]) { release(mappings.map(\.hostSide)) }

    private func release(_ keys: [HostPort]) {
        let fds = held.withLock { held in keys.compactMap { held.removeValue(forKey: $0) } }
        for fd in fds { close(fd) }
    }

    private func isHeld(_ key: HostPort) -> Bool { held.withLock { $0[key] != nil } }

    /// True when a socket other than ours holds the port: binding a probe socket (with
    /// SO_REUSEADDR, so connections in TIME_WAIT don't count) fails. The registry already
    /// knows the ports we hold; a port we hold answers false.
    func inUseByOthers(_ port: HostPort) -> Bool {
        let ours = held.withLock { held in held.keys.contains { $0.conflicts(with: port) } }
        if ours { return false }
        guard let fd = try? HostPorts.socket(port.proto, port.ip.family, reuse: true).get() else { return false }
        defer { close(fd) }
        // EADDRNOTAVAIL (an address the host doesn't have) is not "in use".
        return HostPorts.bind(fd, port) == EADDRINUSE
    }

    // MARK: Sockets

    /// A socket bound to the port, without SO_REUSEADDR so that no other socket can bind
    /// it; for TCP, a port that only connections in TIME_WAIT still use is taken with it.
    private static func bind(_ key: HostPort) -> Result<Int32, ModelError> {
        var result = bind(key, reuse: false)
        if key.proto == .tcp, case .failure(.portAllocated) = result {
            result = bind(key, reuse: true)
        }
        return result
    }

    private static func bind(_ key: HostPort, reuse: Bool) -> Result<Int32, ModelError> {
        let fd: Int32
        switch socket(key.proto, key.ip.family, reuse: reuse) {
        case .success(let socket): fd = socket
        case .failure(let error): return .failure(error)
        }
        switch bind(fd, key) {
        case 0: return .success(fd)
        case EADDRINUSE:
            close(fd)
            return .failure(.portAllocated(key.description))
        case let code:
            close(fd)
            return .failure(.hostPortUnavailable(key.description, String(cString: strerror(code))))
        }
    }

    /// A socket for holding or probing a port. IP_FREEBIND lets it hold a port on an address
    /// the host does not have yet (the address watch publishes on it when it comes); an
    /// IPv6 socket is IPV6_V6ONLY, its port the IPv6 one alone.
    private static func socket(
        _ proto: PortProtocol, _ family: AddressFamily, reuse: Bool
    ) -> Result<Int32, ModelError> {
        let type = proto == .tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue
        let fd = Glibc.socket(family == .ipv4 ? AF_INET : AF_INET6, Int32(type) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.hostPortUnavailable("socket", String(cString: strerror(errno)))) }
        var one: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        if reuse { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size) }
        if family == .ipv6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, size) }
        // IP_FREEBIND holds for IPv6 sockets too (Linux's ipv6_can_nonlocal_bind).
        setsockopt(fd, Int32(IPPROTO_IP), IP_FREEBIND, &one, size)
        if proto == .udp { _ = bp_socket_accept_nothing(fd) }  // nothing queues behind it
        return .success(fd)
    }

    /// Binds; 0 or the errno.
    private static func bind(_ fd: Int32, _ key: HostPort) -> Int32 {
        let result: Int32
        switch key.ip {
        case .v4(let address):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = key.port.bigEndian
            sin.sin_addr.s_addr = address.value.bigEndian
            result = bind(fd, &sin)
        case .v6(let address):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = key.port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: address.bytes) }
            result = bind(fd, &sin6)
        }
        return result == 0 ? 0 : errno
    }

    private static func bind<Address>(_ fd: Int32, _ address: inout Address) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<Address>.size))
            }
        }
    }
}
