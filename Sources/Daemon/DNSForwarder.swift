import DNS
import Model
import NIOCore
import NIOPosix

/// Asks upstream servers what the embedded DNS doesn't know, as Docker does: each server
/// in turn until one answers, over the transport the container used, from the agent's
/// namespace (so a host's loopback resolver, such as systemd-resolved's 127.0.0.53,
/// works). Each exchange has a socket of its own (a random source port) and a fresh
/// random ID, and only a reply from the server asked, with that ID and the question
/// asked, is taken.
struct DNSForwarder: Sendable {
    /// Docker's timeout per upstream server.
    static let timeout = TimeAmount.seconds(4)

    enum ForwardError: Error { case noAnswer }

    /// The first upstream's reply, with the container's ID back in it, and its rcode.
    func forward(
        _ packet: [UInt8], query: DNSQuery, to upstreams: [IPv4Address], over transport: DNSTransport,
        on loop: any EventLoop
    ) -> EventLoopFuture<([UInt8], DNSResponseCode)> {
        var attempt = loop.makeFailedFuture(ForwardError.noAnswer) as EventLoopFuture<[UInt8]>
        for upstream in upstreams {
            attempt = attempt.flatMapError { _ in
                exchange(packet, question: query.question, with: upstream, over: transport, on: loop)
            }
        }
        return attempt.flatMapThrowing { reply in
            let summary = try DNSReplySummary.parse(reply)
            return (DNSWire.replacingID(reply, with: query.id), summary.code)
        }
    }

    private func exchange(
        _ packet: [UInt8], question: DNSQuestion, with upstream: IPv4Address, over transport: DNSTransport,
        on loop: any EventLoop
    ) -> EventLoopFuture<[UInt8]> {
        let id = UInt16.random(in: .min ... .max)
        let outgoing = DNSWire.replacingID(packet, with: id)
        let promise = loop.makePromise(of: [UInt8].self)
        let server: SocketAddress
        do { server = try SocketAddress(ipAddress: upstream.description, port: 53) } catch {
            return loop.makeFailedFuture(error)
        }
        let matcher = UpstreamReply(id: id, question: question, promise: promise)
        let channel: EventLoopFuture<Channel>
        switch transport {
        case .udp:
            channel = DatagramBootstrap(group: loop)
                .channelOption(
                    .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: EmbeddedDNS.largestMessage)
                )
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UpstreamDatagramHandler(server, matcher))
                    }
                }
                // Connected, so that a server with nothing on port 53 answers at once
                // (port unreachable reads as ECONNREFUSED) and the next one is asked.
                .connect(to: server)
        case .tcp:
            channel = ClientBootstrap(group: loop)
                .connectTimeout(Self.timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([
                            ByteToMessageHandler(DNSFrameDecoder()), UpstreamStreamHandler(matcher),
                        ])
                    }
                }
                .connect(to: server)
        }
        channel.whenComplete { result in
            switch result {
            case .success(let channel):
                // The timeout closes the socket, and so does the exchange's end, whatever
                // it is; closing fails the promise if nothing came. Then the query goes.
                let timeout = loop.scheduleTask(in: Self.timeout) { channel.close(promise: nil) }
                promise.futureResult.whenComplete { _ in
                    timeout.cancel()
                    channel.close(promise: nil)
                }
                let message =
                    transport == .tcp
                    ? ByteBuffer(dnsFrame: outgoing) : ByteBuffer(bytes: outgoing)
                channel.writeAndFlush(message).whenFailure { error in matcher.fail(error) }
            case .failure(let error):
                matcher.fail(error)
            }
        }
        return promise.futureResult
    }
}

/// The promise of one exchange and what its reply must match; completed once, on the
/// exchange's event loop.
final class UpstreamReply: Sendable {
    private let done: NIOLoopBoundBox<Bool>
    let id: UInt16
    let question: DNSQuestion
    let promise: EventLoopPromise<[UInt8]>

    init(id: UInt16, question: DNSQuestion, promise: EventLoopPromise<[UInt8]>) {
        self.id = id
        self.question = question
        self.promise = promise
        done = NIOLoopBoundBox(false, eventLoop: promise.futureResult.eventLoop)
    }

    /// Takes a reply that answers what was asked (id, and the question unless the reply is
    /// an error without one); ignores anything else (a late or forged packet), so the
    /// exchange goes on waiting.
    func offer(_ bytes: [UInt8]) {
        guard !done.value, let summary = try? DNSReplySummary.parse(bytes), summary.id == id,
            summary.question.map({
                $0.name.key == question.name.key && $0.type == question.type && $0.qclass == question.qclass
            }) ?? (summary.code != .noError)  // only an error may leave the question out
        else { return }
        done.value = true
        promise.succeed(bytes)
    }

    func fail(_ error: any Error) {
        guard !done.value else { return }
        done.value = true
        promise.fail(error)
    }
}

final class UpstreamDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let server: SocketAddress
    let reply: UpstreamReply

    init(_ server: SocketAddress, _ reply: UpstreamReply) {
        self.server = server
        self.reply = reply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server else { return }
        reply.offer(Array(envelope.data.readableBytesView))
    }

    func channelInactive(context: ChannelHandlerContext) { reply.fail(DNSForwarder.ForwardError.noAnswer) }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

final class UpstreamStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let reply: UpstreamReply

    init(_ reply: UpstreamReply) { self.reply = reply }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reply.offer(Array(unwrapInboundIn(data).readableBytesView))
    }

    func channelInactive(context: ChannelHandlerContext) { reply.fail(DNSForwarder.ForwardError.noAnswer) }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
