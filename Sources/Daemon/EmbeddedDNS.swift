import BPF
import DNS
import Datapath
import FoundationEssentials
import Logging
import Model
import NIOCore
import NIOPosix
import Synchronization

/// Docker's embedded DNS server: 127.0.0.11:53, UDP and TCP, inside the namespace of every
/// container on a user-defined network. The agent opens the two sockets in the container's
/// namespace (a socket stays where it was made) and serves all of them from one event
/// loop of its own; there is no process per container. Names come from the `NameTable`
/// the agent publishes after each change; the rest is forwarded (`DNSForwarder`).
///
/// A cgroup socket hook that sends 127.0.0.11:53 to one agent socket was the other way:
/// a connect() hook cannot move a socket into another namespace, so that socket would
/// have to listen on each bridge's gateway and know the asker by source address, and
/// only containers in the hooked cgroup would be served.
final class EmbeddedDNS: Sendable {
    /// Docker's address. The sockets listen at ports the kernel picks, and the socket hooks
    /// send the container's 127.0.0.11:53 there, as Docker's DNAT does: the container can
    /// still bind port 53 itself (a DNS server of its own).
    static let address = IPv4Address(127, 0, 0, 11)
    /// Forwarded queries and TCP connections one container may have open at once; more
    /// are dropped and counted (`overload`), so that a flood costs its sender only.
    static let maxInFlight = 256
    static let maxConnections = 256
    /// A TCP client that sends nothing for this long is disconnected.
    static let idleTimeout = TimeAmount.seconds(10)
    /// A DNS message's largest size: reads of UDP are never cut short (NIO reads 2,048
    /// bytes by default, and a longer datagram would arrive truncated, without a sign).
    static let largestMessage = 65535

    /// One container's server: its two channels, their ports, and what it has in flight.
    struct Listener: Sendable {
        var datagram: EventLoopFuture<Channel>
        var stream: EventLoopFuture<Channel>
        var ports: DNSServerPorts
        var load: Load
    }

    /// What a container has open at once: forwarded queries and TCP connections.
    struct Load: Sendable {
        let forwards = Slots(limit: EmbeddedDNS.maxInFlight)
        let connections = Slots(limit: EmbeddedDNS.maxConnections)
    }

    /// A count with a limit, taken and given back from any thread.
    final class Slots: Sendable {
        private let taken = Atomic<Int>(0)
        let limit: Int

        init(limit: Int) { self.limit = limit }

        /// Takes one unless all are taken.
        func take() -> Bool {
            if taken.wrappingAdd(1, ordering: .relaxed).newValue <= limit { return true }
            taken.wrappingSubtract(1, ordering: .relaxed)
            return false
        }

        func giveBack() { taken.wrappingSubtract(1, ordering: .relaxed) }
    }

    let metrics = DNSMetrics()
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let table = Mutex(NameTable())
    private let listeners = Mutex<[String: Listener]>([:])
    private let rotation = Atomic<Int>(0)
    private let forwarder = DNSForwarder()
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    /// Replaces the names every server answers with.
    func publish(_ names: NameTable) { table.withLock { $0 = names } }

    /// The containers it serves, and those its names know (the same, unless a change failed half-way).
    var serving: Set<String> { listeners.withLock { Set($0.keys) } }
    var askers: Set<String> { table.withLock { Set($0.askers.keys) } }

    /// Where the container's 127.0.0.11:53 goes: the ports its server listens on.
    func ports(of id: String) -> DNSServerPorts? { listeners.withLock { $0[id]?.ports } }

    /// Serves the container whose namespace is given, from the two sockets the datapath
    /// bound there. Only the sockets can fail; the channels are registered asynchronously.
    func open(container id: String, sockets: ServerSockets) {
        let load = Load()
        let datagram = DatagramBootstrap(group: group)
            .channelOption(
                .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: EmbeddedDNS.largestMessage)
            )
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DNSDatagramHandler(DNSSession(server: self, asker: id, transport: .udp)))
                }
            }
            .withBoundSocket(sockets.datagram)
        let stream = ServerBootstrap(group: group)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 16 * 1024, high: 64 * 1024))
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard load.connections.take() else {
                        self.metrics.dropped(network: self.network(of: id), .overload)
                        channel.close(promise: nil)
                        return
                    }
                    channel.closeFuture.whenComplete { _ in load.connections.giveBack() }
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: EmbeddedDNS.idleTimeout),
                        ByteToMessageHandler(DNSFrameDecoder()),
                        DNSStreamHandler(DNSSession(server: self, asker: id, transport: .tcp)),
                    ])
                }
            }
            .withBoundSocket(sockets.stream)
        for (kind, channel) in [("udp", datagram), ("tcp", stream)] {
            channel.whenFailure { [self] (error: any Error) in
                logger.error(
                    "embedded DNS: cannot serve \(kind)", metadata: ["container": "\(id)", "error": "\(error)"])
                self.close(container: id)  // not served: forgotten, so that the next change opens it again
            }
        }
        let listener = Listener(datagram: datagram, stream: stream, ports: sockets.ports, load: load)
        let previous = listeners.withLock { $0.updateValue(listener, forKey: id) }
        previous.map(Self.close)
    }

    func close(container id: String) {
        listeners.withLock { $0.removeValue(forKey: id) }.map(Self.close)
    }

    private static func close(_ listener: Listener) {
        listener.datagram.whenSuccess { $0.close(promise: nil) }
        listener.stream.whenSuccess { $0.close(promise: nil) }
    }

    func shutdown() async {
        listeners.withLock { all in
            all.values.forEach(Self.close)
            all = [:]
        }
        try? await group.shutdownGracefully()
    }

    private func network(of asker: String) -> String {
        table.withLock { $0.askers[asker]?.metricsNetwork } ?? ""
    }

    /// One packet from a container: `reply` sends the response back the way it came.
    func handle(
        _ packet: [UInt8], from asker: String, over transport: DNSTransport, on loop: any EventLoop,
        reply: @escaping @Sendable ([UInt8]) -> Void
    ) {
        let names = table.withLock { $0 }
        let network = names.askers[asker]?.metricsNetwork ?? ""
        metrics.received(network: network)
        let turn = rotation.wrappingAdd(1, ordering: .relaxed).oldValue
        switch DNSResponder.decide(packet, asker: asker, table: names, transport: transport, rotation: turn) {
        case .drop:
            metrics.dropped(network: network, .malformed)
        case .answer(let response, let code):
            metrics.answered(network: network, code)
            reply(response)
        case .forward(let query, let upstreams):
            guard let load = listeners.withLock({ $0[asker]?.load }), load.forwards.take() else {
                metrics.dropped(network: network, .overload)
                return
            }
            let started = ContinuousClock.now
            forwarder.forward(packet, query: query, to: upstreams, over: transport, on: loop).whenComplete {
                [metrics] result in
                load.forwards.giveBack()
                let elapsed = ContinuousClock.now - started
                metrics.forwarded(network: network, seconds: elapsed.seconds)
                switch result {
                case .success(let (response, code)):
                    metrics.answered(network: network, code)
                    reply(response)
                case .failure:
                    let limit = transport == .tcp ? 65535 : query.udpLimit()
                    metrics.answered(network: network, .serverFailure)
                    reply(query.response(code: .serverFailure, authoritative: false, limit: limit))
                }
            }
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Whom a handler serves: one container's queries over one transport.
struct DNSSession: Sendable {
    let server: EmbeddedDNS
    let asker: String
    let transport: DNSTransport

    func handle(_ packet: ByteBuffer, on loop: any EventLoop, reply: @escaping @Sendable ([UInt8]) -> Void) {
        server.handle(Array(packet.readableBytesView), from: asker, over: transport, on: loop, reply: reply)
    }
}

/// Queries over UDP: one datagram each, answered to the address it came from.
final class DNSDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let session: DNSSession

    init(_ session: DNSSession) { self.session = session }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let channel = context.channel
        session.handle(envelope.data, on: context.eventLoop) { [client = envelope.remoteAddress] response in
            channel.writeAndFlush(
                AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: response)), promise: nil)
        }
    }

    /// A send that fails (the client went away) ends nothing: the server keeps serving.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Queries over TCP: each framed by its two-byte length, answered on the connection.
final class DNSStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let session: DNSSession

    init(_ session: DNSSession) { self.session = session }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let channel = context.channel
        session.handle(unwrapInboundIn(data), on: context.eventLoop) { response in
            channel.writeAndFlush(ByteBuffer(dnsFrame: response), promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) }
    }

    /// A client that sends queries and never reads the answers is not read from until it
    /// does: its answers would otherwise pile up in the agent's memory.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.channel.setOption(.autoRead, value: context.channel.isWritable).whenFailure { _ in }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// DNS over TCP frames each message with its length (RFC 1035 4.2.2).
struct DNSFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
            buffer.readableBytes >= 2 + Int(length)
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}

extension ByteBuffer {
    init(dnsFrame message: [UInt8]) {
        self.init()
        writeInteger(UInt16(message.count))
        writeBytes(message)
    }
}
