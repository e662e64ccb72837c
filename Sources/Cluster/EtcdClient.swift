import AsyncHTTPClient
import FoundationEssentials
import Logging

/// A key and its value as etcd stores them.
public struct EtcdKeyValue: Sendable, Hashable {
    public var key: String
    public var value: Data
    /// The revision of the last write of the key.
    public var modRevision: Int64
    /// The revision that created the key (it changes when the key is deleted and created again).
    public var createRevision: Int64
    /// The lease the key is attached to, 0 for none.
    public var lease: Int64

    public init(key: String, value: Data, modRevision: Int64, createRevision: Int64, lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.modRevision = modRevision
        self.createRevision = createRevision
        self.lease = lease
    }
}

/// A change seen by a watch.
public enum EtcdWatchEvent: Sendable, Hashable {
    case put(EtcdKeyValue)
    case delete(key: String, modRevision: Int64)
}

/// A client of etcd's v3 API through its gRPC-JSON gateway (plain HTTP/1.1 and JSON, served on the client
/// port), so the agent needs no gRPC or protobuf stack. Call `shutdown()` before dropping it.
public final class EtcdClient: Sendable {
    /// A unary call that takes longer than this is treated as etcd being unreachable.
    static let callTimeout: Int64 = 5
    static let connectTimeout: Int64 = 2
    /// The most a unary answer may hold.
    static let answerLimit = 64 << 20

    let endpoint: EtcdEndpoint
    private let logger: Logger
    /// The HTTP client logs every request at debug: it gets our level only when we trace.
    private let httpLogger: Logger
    /// For unary calls, with a read timeout.
    private let calls: HTTPClient
    /// For watches: a watch on a quiet prefix reads nothing for hours, so it has no read timeout.
    private let streams: HTTPClient

    /// - Parameter endpoint: etcd's client URL, "http://10.0.0.5:2379", or the --cluster-store form "etcd://10.0.0.5:2379".
    public init(endpoint: String, logger: Logger) throws {
        self.endpoint = try EtcdEndpoint(parsing: endpoint)
        var logger = logger
        logger[metadataKey: "etcd"] = "\(self.endpoint)"
        self.logger = logger
        var httpLogger = logger
        if logger.logLevel > .trace { httpLogger.logLevel = max(logger.logLevel, .info) }
        self.httpLogger = httpLogger

        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(Self.connectTimeout), read: .seconds(Self.callTimeout))
        calls = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        configuration.timeout = .init(connect: .seconds(Self.connectTimeout), read: nil)
        streams = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func shutdown() async throws {
        // Both, even when the first fails.
        var failure: Error?
        do { try await calls.shutdown() } catch { failure = error }
        try await streams.shutdown()
        if let failure { throw failure }
    }

    // MARK: Keys

    public func get(_ key: String) async throws -> EtcdKeyValue? {
        let answer = try await call("/v3/kv/range", WireRangeRequest(key: WireBytes(key)))
        return try EtcdWire.range(answer).values.first
    }

    /// Every key under `prefix`, and the revision of the store they were read at (to watch from revision + 1).
    public func range(prefix: String) async throws -> (values: [EtcdKeyValue], revision: Int64) {
        let request = WireRangeRequest(key: WireBytes(prefix), rangeEnd: WireBytes(prefixRangeEnd(Array(prefix.utf8))))
        return try EtcdWire.range(await call("/v3/kv/range", request))
    }

    public func put(_ key: String, _ value: Data, lease: Int64? = nil) async throws {
        _ = try await call(
            "/v3/kv/put", WirePutRequest(key: WireBytes(key), value: WireBytes(value), lease: lease.map(WireInt64.init))
        )
    }

    /// Atomically creates key only if it does not exist (txn: compare CREATE revision == 0 on key, success put).
    /// Returns false when it already existed.
    public func create(_ key: String, _ value: Data, lease: Int64? = nil) async throws -> Bool {
        let request = WireTxnRequest.create(
            key: WireBytes(key), value: WireBytes(value), lease: lease.map(WireInt64.init))
        return try EtcdWire.txnSucceeded(await call("/v3/kv/txn", request))
    }

    /// Atomically creates every key only if none of them exists (one transaction). Returns
    /// false, having written nothing, when any existed.
    public func create(_ entries: [(key: String, value: Data)], lease: Int64? = nil) async throws -> Bool {
        let request = WireTxnRequest.create(
            entries.map { (WireBytes($0.key), WireBytes($0.value)) }, lease: lease.map(WireInt64.init))
        return try EtcdWire.txnSucceeded(await call("/v3/kv/txn", request))
    }

    /// Deleting a key that does not exist is not an error.
    public func delete(_ key: String) async throws {
        _ = try await call("/v3/kv/deleterange", WireDeleteRangeRequest(key: WireBytes(key)))
    }

    /// Deletes `key` only if it still is what was read (its mod revision): false, having
    /// deleted nothing, when it was written or deleted meanwhile.
    public func delete(_ key: String, ifModRevision revision: Int64) async throws -> Bool {
        let request = WireTxnRequest.delete(key: WireBytes(key), ifModRevision: revision)
        return try EtcdWire.txnSucceeded(await call("/v3/kv/txn", request))
    }

    public func delete(prefix: String) async throws {
        let request = WireDeleteRangeRequest(
            key: WireBytes(prefix), rangeEnd: WireBytes(prefixRangeEnd(Array(prefix.utf8))))
        _ = try await call("/v3/kv/deleterange", request)
    }

    // MARK: Leases

    /// A new lease of `seconds` (etcd raises a TTL below its minimum, about 2 s). Returns its ID.
    public func grantLease(ttl seconds: Int) async throws -> Int64 {
        try EtcdWire.leaseGranted(await call("/v3/lease/grant", WireLeaseGrantRequest(ttl: WireInt64(Int64(seconds)))))
    }

    /// One keepalive round trip; throws .leaseExpired when etcd answers TTL 0/absent (lease gone).
    /// Returns the remaining TTL in seconds.
    public func keepAlive(lease: Int64) async throws -> Int64 {
        // A streaming endpoint: the request body holds one message, so etcd answers one line and ends.
        try EtcdWire.keepAliveTTL(
            await call("/v3/lease/keepalive", WireLeaseRequest(id: WireInt64(lease))), lease: lease)
    }

    /// Revokes the lease and so deletes its keys. A lease that is already gone is not an error: its keys are gone too.
    public func revoke(lease: Int64) async throws {
        do {
            _ = try await call("/v3/lease/revoke", WireLeaseRequest(id: WireInt64(lease)))
        } catch EtcdError.status(code: Self.notFound, _) {
            logger.debug("lease already gone", metadata: ["lease": "\(lease)"])
        }
    }

    /// gRPC's NOT_FOUND, etcd's answer for an unknown lease.
    static let notFound = 5

    // MARK: Watch

    /// Streams changes under prefix from revision `from` (inclusive) on, as batches of events. Ends (throws) on
    /// connection loss, cancellation by etcd, or compaction (.compacted) so the caller re-lists and re-watches.
    /// Dropping the stream, or cancelling the task that iterates it, closes the watch.
    public func watch(prefix: String, from revision: Int64) -> AsyncThrowingStream<[EtcdWatchEvent], Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: [EtcdWatchEvent].self)
        let task = Task {
            do {
                try await self.runWatch(prefix: prefix, from: revision, into: continuation)
            } catch {
                continuation.finish(throwing: self.callError(error))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func runWatch(
        prefix: String,
        from revision: Int64,
        into continuation: AsyncThrowingStream<[EtcdWatchEvent], Error>.Continuation
    ) async throws {
        let path = "/v3/watch"
        let body = WireWatchRequest(
            createRequest: .init(
                key: WireBytes(prefix),
                rangeEnd: WireBytes(prefixRangeEnd(Array(prefix.utf8))),
                startRevision: WireInt64(revision)
            ))
        let response = try await streams.execute(
            request(path, body), timeout: .seconds(Self.callTimeout), logger: httpLogger)
        guard response.status == .ok else {
            let answer = try await response.body.collect(upTo: Self.answerLimit)
            throw EtcdWire.statusError(
                httpStatus: Int(response.status.code), body: Data(answer.readableBytesView), path: path)
        }
        logger.debug("watching", metadata: ["prefix": "\(prefix)", "from": "\(revision)"])

        var splitter = LineSplitter()
        func handle(_ line: [UInt8]) throws {
            let message: WatchMessage
            do {
                message = try EtcdWire.watchMessage(line)
            } catch let EtcdError.status(code, message) {
                // The gateway lost its stream to etcd, mostly because etcd is stopping (code 14 or 1, it varies).
                throw EtcdError.unreachable(
                    endpoint: "\(endpoint)", reason: "the watch stream broke (error \(code): \(message))")
            }
            switch message {
            case .created, .progress: break
            case .events(let events): continuation.yield(events)
            }
        }
        // etcd keeps the HTTP stream open after it cancels a watch: the throw from handle() is what ends it,
        // and leaving the loop drops the body, which closes the connection.
        for try await chunk in response.body {
            for line in try splitter.append(chunk.readableBytesView) {
                try handle(line)
            }
        }
        if let last = splitter.finish() { try handle(last) }
        throw EtcdError.unreachable(endpoint: "\(endpoint)", reason: "the watch stream ended")
    }

    // MARK: Transport

    private func request(_ path: String, _ body: some Encodable) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: endpoint.url + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(EtcdWire.encode(body))
        return request
    }

    /// POSTs `body` to `path` and returns the answer of a 200, or throws an EtcdError.
    private func call(_ path: String, _ body: some Encodable) async throws -> Data {
        logger.trace("call", metadata: ["path": "\(path)"])
        do {
            let response = try await calls.execute(
                request(path, body), timeout: .seconds(Self.callTimeout), logger: httpLogger)
            let answer = Data(try await response.body.collect(upTo: Self.answerLimit).readableBytesView)
            guard response.status == .ok else {
                throw EtcdWire.statusError(httpStatus: Int(response.status.code), body: answer, path: path)
            }
            return answer
        } catch {
            throw callError(error)
        }
    }

    /// Our errors as they are; the HTTP client's as .unreachable, with the reason in words.
    private func callError(_ error: Error) -> Error {
        if error is EtcdError || error is CancellationError { return error }
        if Task.isCancelled { return CancellationError() }
        let reason: String
        switch error as? HTTPClientError {
        case .deadlineExceeded?, .readTimeout?: reason = "no answer within \(Self.callTimeout) s"
        case .connectTimeout?: reason = "no connection within \(Self.connectTimeout) s"
        case .remoteConnectionClosed?: reason = "the connection was closed"
        default:
            // NIO's errors describe themselves with syscall names; keep the common ones short.
            let text = String(describing: error)
            let lowercased = text.lowercased()
            if lowercased.contains("refused") {
                reason = "connection refused"
            } else if lowercased.contains("reset by peer") {
                reason = "the connection was reset"
            } else if lowercased.contains("closed channel") {
                reason = "the connection was closed"
            } else {
                reason = text
            }
        }
        return EtcdError.unreachable(endpoint: "\(endpoint)", reason: reason)
    }
}
