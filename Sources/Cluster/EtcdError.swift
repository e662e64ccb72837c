/// Failures of the etcd client. Each description says what went wrong and what to do about it.
public enum EtcdError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The endpoint given to the client does not parse.
    case invalidEndpoint(String, reason: String)
    /// No answer from etcd: connection refused, timed out, or dropped (a watch stream that ends is this too).
    case unreachable(endpoint: String, reason: String)
    /// etcd answered with an error. `code` is the gRPC code etcd gave (5 not found, 11 out of range, ...),
    /// or the HTTP status when the answer had none.
    case status(code: Int, message: String)
    /// An answer that is not what etcd's v3 JSON gateway sends.
    case badAnswer(String)
    /// The lease is gone (expired or revoked): the keys attached to it are gone with it.
    case leaseExpired(Int64)
    /// etcd ended the watch for another reason than compaction.
    case watchCanceled(reason: String)
    /// The watch asked for history that etcd has compacted away; the oldest revision left is `revision`.
    case compacted(revision: Int64)

    public var description: String {
        switch self {
        case .invalidEndpoint(let text, let reason):
            "invalid etcd endpoint \"\(text)\": \(reason) (expected etcd://HOST:PORT or http://HOST:PORT)"
        case .unreachable(let endpoint, let reason):
            "cannot reach etcd at \(endpoint): \(reason); check that etcd runs there and listens for clients on that address (--listen-client-urls)"
        case .status(let code, let message):
            "etcd answered error \(code): \(message)"
        case .badAnswer(let detail):
            "unexpected answer from etcd: \(detail); is the endpoint the client URL of etcd 3.4 or later?"
        case .leaseExpired(let lease):
            "etcd lease \(String(lease, radix: 16)) has expired or was revoked; grant a new lease and write its keys again"
        case .watchCanceled(let reason):
            "etcd canceled the watch: \(reason); list the prefix again and watch from the revision of that list"
        case .compacted(let revision):
            "etcd has compacted the history the watch needs (oldest revision left: \(revision)); list the prefix again and watch from the revision of that list"
        }
    }
}
