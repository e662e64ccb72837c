import BPF
import CBPF
import Glibc
import Model
import XCTest

/// The cgroup socket hooks of IPv6 sockets (sock.bpf.o) with real sockets, in namespaces
/// and a cgroup v2 directory of the test's own:
///
///   "host" (registered BP_NETNS_HOST): bpt-h fd00:40::1, 10.40.0.1  <-veth->  bpt-c fd00:40::2, 10.40.0.2: "container"
///   (registered BP_NETNS_CONTAINER with both addresses), and "stranger", a namespace not registered.
///
/// The test process joins the cgroup while it runs, so that the sockets it makes there
/// pass the hooks (a socket belongs to its maker's cgroup); other sockets of the process
/// are in namespaces the hooks leave alone.
final class SocketHooks6Tests: XCTestCase {
    static let hostIP6 = ip6("2001:db8:1::1")  // the host's IPv6 address (bp_host_addrs6)
    static let containerIP6 = ip6("fd00:40::2")
    static let containerIP = ip("10.40.0.2")
    static let loopback6 = ip6("::1")
    static let tcp = UInt8(BP_PROTO_TCP.rawValue)
    static let udp = UInt8(BP_PROTO_UDP.rawValue)
    /// The container's veth as registered (refusals count there); the hooks only write it.
    static let containerVeth: UInt32 = 4242
    static let dns = DNSServerPorts(udp: 41053, tcp: 41054)

    struct Setup {
        let host: String
        let container: String
        let stranger: String
        let maps: BridgeportMaps
    }

    override func setUpWithError() throws {
        try Sandbox.requireRoot()
        try Sandbox.buildObject("sock")
    }

    // MARK: the tests

    func testTCPToLoopbackAndHostAddressReachesTheTargetAndShowsThePublishedAddress() throws {
        let s = try makeSetup()
        try publish6(s, host: nil, 8080, proto: Self.tcp, to: Self.containerIP6, 80)
        let listener = try Socket.listen(in: s.container, .ipv6(Self.containerIP6, 80))

        for published in [SocketAddress.ipv6(Self.loopback6, 8080), .ipv6(Self.hostIP6, 8080)] {
            let client = try Socket(in: s.host, family: AF_INET6, type: SOCK_STREAM)
            XCTAssertEqual(client.connect(published), 0, "connect \(published)")
            XCTAssertEqual(try client.peer(), published, "getpeername shows the published address")
            try client.send("hello \(published)")
            let server = try listener.accept()
            XCTAssertEqual(try server.receive(), "hello \(published)", "the target got the connection")
            XCTAssertEqual(try server.local(), .ipv6(Self.containerIP6, 80))
        }
        XCTAssertEqual(try flows6(s, host: nil, 8080, proto: Self.tcp), 2, "connect()s counted as flows")
    }

    func testUDPSendmsgAndRecvmsgShowThePublishedAddress() throws {
        let s = try makeSetup()
        try publish6(s, host: Self.hostIP6, 5353, proto: Self.udp, to: Self.containerIP6, 53)
        let server = try Socket.bound(in: s.container, .ipv6(Self.containerIP6, 53))
        let client = try Socket(in: s.host, family: AF_INET6, type: SOCK_DGRAM)

        XCTAssertEqual(client.send("ping", to: .ipv6(Self.hostIP6, 5353)), 0)
        let (question, asker) = try server.receiveFrom()
        XCTAssertEqual(question, "ping", "the datagram reached the target")
        XCTAssertEqual(server.send("pong", to: asker), 0)
        let (answer, from) = try client.receiveFrom()
        XCTAssertEqual(answer, "pong")
        XCTAssertEqual(from, .ipv6(Self.hostIP6, 5353), "recvmsg shows the published address")
        XCTAssertEqual(try flows6(s, host: Self.hostIP6, 5353, proto: Self.udp), 0, "sendmsg() is no new flow")
    }

    /// recvmsg() changes a source only for the socket sent there (bp_sock_marks): a socket
    /// that never was sees the target as it is, as does the one that was for another port.
    func testRecvmsgLeavesSourcesNoRedirectOfTheSocketMade() throws {
        let s = try makeSetup()
        try publish6(s, host: Self.hostIP6, 5353, proto: Self.udp, to: Self.containerIP6, 53)
        let target = try Socket.bound(in: s.container, .ipv6(Self.containerIP6, 53))
        let other = try Socket.bound(in: s.container, .ipv6(Self.containerIP6, 54))
        let redirected = try Socket(in: s.host, family: AF_INET6, type: SOCK_DGRAM)
        let plain = try Socket(in: s.host, family: AF_INET6, type: SOCK_DGRAM)

        XCTAssertEqual(redirected.send("ping", to: .ipv6(Self.hostIP6, 5353)), 0)
        let (_, redirectedAddress) = try target.receiveFrom()
        XCTAssertEqual(plain.send("ping", to: .ipv6(Self.containerIP6, 53)), 0, "to the target itself: no redirect")
        let (_, plainAddress) = try target.receiveFrom()

        XCTAssertEqual(target.send("pong", to: plainAddress), 0)
        XCTAssertEqual(try plain.receiveFrom().1, .ipv6(Self.containerIP6, 53), "a socket never redirected")
        XCTAssertEqual(other.send("pong", to: redirectedAddress), 0)
        XCTAssertEqual(try redirected.receiveFrom().1, .ipv6(Self.containerIP6, 54), "another port of the target")
        XCTAssertEqual(target.send("pong", to: redirectedAddress), 0)
        XCTAssertEqual(try redirected.receiveFrom().1, .ipv6(Self.hostIP6, 5353), "the redirected one's target")
    }

    func testDualStackSocketsReachIPv4PortsThroughMappedAddresses() throws {
        let s = try makeSetup()
        try publish4(s, 8081, proto: Self.tcp, to: Self.containerIP, 81)
        try publish4(s, 5354, proto: Self.udp, to: Self.containerIP, 54)
        let mappedLoopback = SocketAddress.mapped(ip("127.0.0.1"), 8081)

        let listener = try Socket.listen(in: s.container, .ipv4(Self.containerIP, 81))
        let client = try Socket(in: s.host, family: AF_INET6, type: SOCK_STREAM)
        XCTAssertEqual(client.connect(mappedLoopback), 0)
        XCTAssertEqual(try client.peer(), mappedLoopback, "getpeername shows the published address")
        try client.send("hello")
        XCTAssertEqual(try listener.accept().receive(), "hello")
        XCTAssertEqual(
            try s.maps.portTraffic()[HostPort(.tcp, IPv4Address.any, 8081)]?.flows, 1,
            "counted on the IPv4 port")

        // Datagrams of a dual-stack socket pass sendmsg4; recvmsg6 puts the address back.
        let server = try Socket.bound(in: s.container, .ipv4(Self.containerIP, 54))
        let udp = try Socket(in: s.host, family: AF_INET6, type: SOCK_DGRAM)
        XCTAssertEqual(udp.send("ping", to: .mapped(ip("127.0.0.1"), 5354)), 0)
        let (question, asker) = try server.receiveFrom()
        XCTAssertEqual(question, "ping")
        XCTAssertEqual(server.send("pong", to: asker), 0)
        XCTAssertEqual(try udp.receiveFrom().from, .mapped(ip("127.0.0.1"), 5354))
        // ... and a connected one passes connect6.
        let connected = try Socket(in: s.host, family: AF_INET6, type: SOCK_DGRAM)
        XCTAssertEqual(connected.connect(.mapped(ip("127.0.0.1"), 5354)), 0)
        XCTAssertEqual(try connected.peer(), .mapped(ip("127.0.0.1"), 5354))
        try connected.send("again")
        XCTAssertEqual(try server.receiveFrom().data, "again")
    }

    func testAContainersMappedDNSAddressReachesTheEmbeddedServer() throws {
        let s = try makeSetup()
        let dnsServer = SocketAddress.ipv4(ip("127.0.0.11"), Self.dns.udp)
        let server = try Socket.bound(in: s.container, dnsServer)
        let listener = try Socket.listen(in: s.container, .ipv4(ip("127.0.0.11"), Self.dns.tcp))
        let docker = SocketAddress.mapped(ip("127.0.0.11"), 53)

        let udp = try Socket(in: s.container, family: AF_INET6, type: SOCK_DGRAM)
        XCTAssertEqual(udp.send("question", to: docker), 0)
        let (question, asker) = try server.receiveFrom()
        XCTAssertEqual(question, "question")
        XCTAssertEqual(server.send("answer", to: asker), 0)
        XCTAssertEqual(try udp.receiveFrom().from, docker, "the answer comes from port 53")

        let tcp = try Socket(in: s.container, family: AF_INET6, type: SOCK_STREAM)
        XCTAssertEqual(tcp.connect(docker), 0)
        XCTAssertEqual(try tcp.peer(), docker)
        try tcp.send("query")
        XCTAssertEqual(try listener.accept().receive(), "query")
    }

    func testARestrictedPortRefusesAContainerItsListDoesNotName() throws {
        let s = try makeSetup()
        try publish6(s, host: nil, 8443, proto: Self.tcp, to: Self.containerIP6, 443, restricted: true)
        let listener = try Socket.listen(in: s.container, .ipv6(Self.containerIP6, 443))
        let published = SocketAddress.ipv6(Self.hostIP6, 8443)

        let before = try notAllowed(s)
        let refused = try Socket(in: s.container, family: AF_INET6, type: SOCK_STREAM)
        XCTAssertEqual(refused.connect(published), EPERM)
        XCTAssertEqual(try notAllowed(s), before + 1, "counted as not_allowed on the container's veth")
        let refusedUDP = try Socket(in: s.container, family: AF_INET6, type: SOCK_DGRAM)
        try publish6(s, host: nil, 8443, proto: Self.udp, to: Self.containerIP6, 443, restricted: true)
        XCTAssertEqual(refusedUDP.send("x", to: published), EPERM)
        XCTAssertEqual(try notAllowed(s), before + 2)

        // The host's own sockets are not filtered.
        let host = try Socket(in: s.host, family: AF_INET6, type: SOCK_STREAM)
        XCTAssertEqual(host.connect(published), 0)
        _ = try listener.accept()

        try allow6(host: nil, 8443, proto: Self.tcp, from: ip6("fd00:40::"), 64, in: s)
        let allowed = try Socket(in: s.container, family: AF_INET6, type: SOCK_STREAM)
        XCTAssertEqual(allowed.connect(published), 0, "allowed once its list names the container's IPv6 address")
        XCTAssertEqual(try allowed.peer(), published)
        try allowed.send("hairpin")
        XCTAssertEqual(try listener.accept().receive(), "hairpin")
        XCTAssertEqual(try notAllowed(s), before + 2)
    }

    func testNamespacesNotRegisteredAreLeftAlone() throws {
        let s = try makeSetup()
        try publish6(s, host: nil, 8080, proto: Self.tcp, to: Self.containerIP6, 80)
        let own = SocketAddress.ipv6(Self.loopback6, 8080)
        let listener = try Socket.listen(in: s.stranger, own)

        let client = try Socket(in: s.stranger, family: AF_INET6, type: SOCK_STREAM)
        XCTAssertEqual(client.connect(own), 0)
        XCTAssertEqual(try client.peer(), own)
        try client.send("mine")
        XCTAssertEqual(try listener.accept().receive(), "mine", "its own listener, not the published target")
        let toHost = try Socket(in: s.stranger, family: AF_INET6, type: SOCK_STREAM)
        XCTAssertEqual(toHost.connect(.ipv6(Self.hostIP6, 8080)), ENETUNREACH, "the host address, unrouted there")
        XCTAssertEqual(try flows6(s, host: nil, 8080, proto: Self.tcp), 0)
    }

    // MARK: map entries, as the agent writes them (bridgeport.h's layouts)

    func publish6(
        _ s: Setup, host: [UInt8]?, _ port: UInt16, proto: UInt8, to target: [UInt8], _ targetPort: UInt16,
        restricted: Bool = false
    ) throws {
        var value = bp_port6_target()
        withUnsafeMutableBytes(of: &value.ip) { $0.copyBytes(from: target) }
        value.port = be16(targetPort)
        value.flags = restricted ? UInt16(BP_PORT_F_RESTRICTED.rawValue) : 0
        value.ifindex = Self.containerVeth
        try s.maps.publishedPorts(.ipv6).update(
            IPv6Encoding.port(Self.portKey6(host, port, proto)), IPv6Encoding.entry(value).target)
    }

    func publish4(_ s: Setup, _ port: UInt16, proto: UInt8, to target: [UInt8], _ targetPort: UInt16) throws {
        let key = bp_port_key(host_ip: 0, host_port: be16(port), proto: proto, pad: 0)
        let value = bp_port_target(
            ip: be32(target), port: be16(targetPort), flags: 0, ifindex: Self.containerVeth, stats_slot: 0)
        try s.maps.publishedPorts(.ipv4).update(HostPort(raw: key), PortEntry(raw: value).target)
    }

    func allow6(
        host: [UInt8]?, _ port: UInt16, proto: UInt8, from network: [UInt8], _ prefix: UInt32, in s: Setup
    )
        throws
    {
        var key = bp_allow6_key()
        key.prefixlen = UInt32(BP_ALLOW6_KEY_FIXED_BITS) + prefix
        key.proto = proto
        key.port = be16(port)
        withUnsafeMutableBytes(of: &key.host_ip) { $0.copyBytes(from: host ?? ip6("::")) }
        withUnsafeMutableBytes(of: &key.ip) { $0.copyBytes(from: network) }
        try s.maps.allow6.update(key, 1)
    }

    static func portKey6(_ host: [UInt8]?, _ port: UInt16, _ proto: UInt8) -> bp_port6_key {
        var key = bp_port6_key()
        withUnsafeMutableBytes(of: &key.host_ip) { $0.copyBytes(from: host ?? ip6("::")) }
        key.host_port = be16(port)
        key.proto = proto
        return key
    }

    func flows6(_ s: Setup, host: [UInt8]?, _ port: UInt16, proto: UInt8) throws -> UInt64 {
        try s.maps.portTraffic()[IPv6Encoding.port(Self.portKey6(host, port, proto))]?.flows ?? 0
    }

    func notAllowed(_ s: Setup) throws -> UInt64 {
        let key = bp_drop_key(
            ifindex: Self.containerVeth, reason: UInt8(BP_DROP_NOT_ALLOWED.rawValue),
            direction: UInt8(BP_DIR_EGRESS.rawValue), pad: 0)
        return try s.maps.dropCounts()[key] ?? 0
    }

    // MARK: making the setup

    func makeSetup() throws -> Setup {
        let pinRoot = try Sandbox.bpffs(self)
        let host = try Sandbox.netns(self)
        let container = try Sandbox.netns(self)
        let stranger = try Sandbox.netns(self)
        for ns in [host, container, stranger] {
            try Sandbox.sh([
                "nsenter", "--net=/run/netns/\(ns)", "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0",
                "net.ipv6.conf.default.disable_ipv6=0",
            ])
        }
        func inHost(_ args: String...) throws { try Sandbox.sh(["nsenter", "--net=/run/netns/\(host)"] + args) }
        func inContainer(_ args: String...) throws {
            try Sandbox.sh(["nsenter", "--net=/run/netns/\(container)"] + args)
        }
        try inHost("ip", "link", "add", "bpt-h", "type", "veth", "peer", "name", "bpt-c", "netns", container)
        try inHost("ip", "addr", "add", "10.40.0.1/24", "dev", "bpt-h")
        try inHost("ip", "-6", "addr", "add", "fd00:40::1/64", "dev", "bpt-h", "nodad")
        try inContainer("ip", "addr", "add", "10.40.0.2/24", "dev", "bpt-c")
        try inContainer("ip", "-6", "addr", "add", "fd00:40::2/64", "dev", "bpt-c", "nodad")
        try inHost("ip", "link", "set", "bpt-h", "up")
        try inContainer("ip", "link", "set", "bpt-c", "up")

        let object = try BPFObject(path: Sandbox.packageRoot + "/build/bpf/sock.bpf.o", pinRoot: pinRoot)
        try object.load()
        let maps = try BridgeportMaps(pinRoot: pinRoot)
        try maps.hostAddressSet6.update(IPv6Address(bytes: Self.hostIP6), 1)
        try maps.hostAddressSet6.update(IPv6Address(bytes: ip6("fd00:40::1")), 1)
        try maps.socketNamespaces.update(try Self.cookie(of: host), .host)
        try maps.socketNamespaces.update(
            try Self.cookie(of: container),
            .container(
                ip: IPv4Address(raw: be32(Self.containerIP)), ip6: IPv6Address(bytes: Self.containerIP6),
                ifindex: Self.containerVeth, dns: Self.dns))

        let cgroup = try joinNewCgroup()
        try BPFFilesystem.makeDirectories(pinRoot + "/links")
        for hook in BridgeportProgram.socketHooks {
            try object.program(hook).attachCgroup(cgroup, as: hook, pinPath: "\(pinRoot)/links/cgroup_\(hook.name)")
        }
        return Setup(host: host, container: container, stranger: stranger, maps: maps)
    }

    /// A new cgroup v2 directory under the hierarchy's root (never the root itself), which the
    /// test process joins until teardown, when it goes back to its own and removes it.
    func joinNewCgroup() throws -> String {
        let root = try Sandbox.sh(["awk", "$3 == \"cgroup2\" { print $2; exit }", "/proc/mounts"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard !root.isEmpty else { throw XCTSkip("no cgroup v2 hierarchy") }
        let own = try String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8).split(separator: "\n")
            .first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
        guard let own else { throw XCTSkip("this process is in no cgroup v2") }
        let path = "\(root)/bpt-\(getpid())-sock"
        guard mkdir(path, 0o755) == 0 else {
            throw Sandbox.Failure("mkdir \(path): \(String(cString: strerror(errno)))")
        }
        addTeardownBlock { rmdir(path) }
        try Self.move(to: path)
        addTeardownBlock { try? Self.move(to: root + (own == "/" ? "" : own)) }
        return path
    }

    static func move(to cgroup: String) throws {
        try "\(getpid())\n".write(toFile: cgroup + "/cgroup.procs", atomically: false, encoding: .utf8)
    }

    /// The namespace's cookie (SO_NETNS_COOKIE of a socket made there), the key of bp_netns.
    static func cookie(of ns: String) throws -> UInt64 {
        let socket = try Socket(in: ns, family: AF_INET, type: SOCK_DGRAM)
        var cookie: UInt64 = 0
        var length = socklen_t(MemoryLayout<UInt64>.size)
        guard getsockopt(socket.fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, &cookie, &length) == 0 else {
            throw Sandbox.Failure("SO_NETNS_COOKIE: \(String(cString: strerror(errno)))")
        }
        return cookie
    }
}

/// An IPv4 or IPv6 address and port, as a socket call gives or takes it.
enum SocketAddress: Equatable, CustomStringConvertible {
    case ipv4([UInt8], UInt16)
    case ipv6([UInt8], UInt16)

    /// ::ffff:a.b.c.d, a dual-stack socket's name of an IPv4 address.
    static func mapped(_ v4: [UInt8], _ port: UInt16) -> SocketAddress {
        .ipv6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + v4, port)
    }

    var description: String {
        switch self {
        case .ipv4(let a, let port): "\(a.map(String.init).joined(separator: ".")):\(port)"
        case .ipv6(let a, let port): "[\(IPv6Address(bytes: a))]:\(port)"
        }
    }

    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        switch self {
        case .ipv4(let address, let port):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: address) }
            return Self.passing(sin, to: body)
        case .ipv6(let address, let port):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: address) }
            return Self.passing(sin6, to: body)
        }
    }

    /// A sockaddr_in or sockaddr_in6 as the socket calls take it.
    private static func passing<Address, T>(
        _ address: Address, to body: (UnsafePointer<sockaddr>, socklen_t) -> T
    ) -> T {
        withUnsafePointer(to: address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<Address>.size)) }
        }
    }

    init(_ storage: sockaddr_storage) throws {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let sin = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
            self = .ipv4(withUnsafeBytes(of: sin.sin_addr) { Array($0) }, UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            let sin6 = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
            self = .ipv6(withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }, UInt16(bigEndian: sin6.sin6_port))
        default: throw Sandbox.Failure("address family \(storage.ss_family)")
        }
    }
}

/// A socket made in a namespace (and in the cgroup of the process at the time), closed
/// when released. Calls that may be refused return the errno (0: done); the others throw.
final class Socket {
    let fd: Int32

    init(in ns: String, family: Int32, type: __socket_type) throws {
        fd = try Sandbox.inNetns(ns) { socket(family, Int32(type.rawValue), 0) }
        guard fd >= 0 else { throw Sandbox.Failure("socket: \(String(cString: strerror(errno)))") }
        // Nothing the tests wait for takes long; a lost datagram fails instead of hanging.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    private init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    /// A socket of the namespace bound to `address` (UDP unless said).
    static func bound(in ns: String, _ address: SocketAddress, type: __socket_type = SOCK_DGRAM) throws -> Socket {
        let socket = try Socket(in: ns, family: address.family, type: type)
        try socket.bind(address)
        return socket
    }

    static func listen(in ns: String, _ address: SocketAddress) throws -> Socket {
        let socket = try bound(in: ns, address, type: SOCK_STREAM)
        guard Glibc.listen(socket.fd, 8) == 0 else {
            throw Sandbox.Failure("listen: \(String(cString: strerror(errno)))")
        }
        return socket
    }

    func bind(_ address: SocketAddress) throws {
        guard address.withSockaddr({ Glibc.bind(fd, $0, $1) }) == 0 else {
            throw Sandbox.Failure("bind \(address): \(String(cString: strerror(errno)))")
        }
    }

    func connect(_ address: SocketAddress) -> Int32 {
        address.withSockaddr { Glibc.connect(fd, $0, $1) } == 0 ? 0 : errno
    }

    func accept() throws -> Socket {
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw Sandbox.Failure("accept: \(String(cString: strerror(errno)))") }
        return Socket(fd: client)
    }

    func send(_ text: String) throws {
        guard Glibc.send(fd, text, text.utf8.count, 0) == text.utf8.count else {
            throw Sandbox.Failure("send: \(String(cString: strerror(errno)))")
        }
    }

    func send(_ text: String, to address: SocketAddress) -> Int32 {
        address.withSockaddr { sendto(fd, text, text.utf8.count, 0, $0, $1) } == text.utf8.count ? 0 : errno
    }

    func receive() throws -> String {
        var buffer = [UInt8](repeating: 0, count: 2048)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count >= 0 else { throw Sandbox.Failure("recv: \(String(cString: strerror(errno)))") }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    func receiveFrom() throws -> (data: String, from: SocketAddress) {
        var buffer = [UInt8](repeating: 0, count: 2048)
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let count = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &length) }
        }
        guard count >= 0 else { throw Sandbox.Failure("recvfrom: \(String(cString: strerror(errno)))") }
        return (String(decoding: buffer[..<count], as: UTF8.self), try SocketAddress(storage))
    }

    func peer() throws -> SocketAddress { try name(getpeername) }
    func local() throws -> SocketAddress { try name(getsockname) }

    private func name(
        _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        guard result == 0 else { throw Sandbox.Failure("socket name: \(String(cString: strerror(errno)))") }
        return try SocketAddress(storage)
    }
}

extension SocketAddress {
    var family: Int32 {
        switch self {
        case .ipv4: AF_INET
        case .ipv6: AF_INET6
        }
    }
}
