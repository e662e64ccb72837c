import API
import FoundationEssentials
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTLS
import NIOSSL
import Synchronization

/// The web configuration file of Prometheus exporters (`--web.config.file`, the
/// exporter-toolkit format): TLS for the metrics endpoint and basic auth users with
/// bcrypt-hashed passwords. Other keys are ignored.
struct WebConfiguration {
    struct TLSServer {
        var certFile: String
        var keyFile: String
    }

    var tlsServerConfig: TLSServer?
    var basicAuthUsers: [String: String]?

    static func load(_ path: String) throws -> WebConfiguration {
        let text: String
        do { text = String(decoding: try readFile(atPath: path), as: UTF8.self) } catch {
            throw AgentError.startup("cannot read --web.config.file \(path): \(error)")
        }
        do {
            return try WebConfiguration(yaml: text)
        } catch {
            throw AgentError.startup("invalid --web.config.file \(path): \(error)")
        }
    }

    /// The configuration text holds; an empty one (or null) is the empty mapping.
    init(yaml text: String) throws(YAMLError) {
        guard let root = try YAMLNode.parse(text), !root.isNull else { return }
        let top = try root.mapping("the top level")
        if let tls = top["tls_server_config"], !tls.isNull {
            let fields = try tls.mapping("tls_server_config")
            func field(_ name: String) throws(YAMLError) -> String {
                guard let value = fields[name] else { throw tls.error("tls_server_config: \(name) is missing") }
                return try value.string("tls_server_config: \(name)")
            }
            tlsServerConfig = TLSServer(certFile: try field("cert_file"), keyFile: try field("key_file"))
        }
        if let users = top["basic_auth_users"], !users.isNull {
            var hashes: [String: String] = [:]
            for (user, hash) in try users.mapping("basic_auth_users") {
                hashes[user] = try hash.string("basic_auth_users: \(user)")
            }
            basicAuthUsers = hashes
        }
    }

    /// The server's TLS settings, or nil for plain HTTP.
    func tlsConfiguration() throws -> TLSConfiguration? {
        guard let tls = tlsServerConfig else { return nil }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certFile).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.keyFile, format: .pem)
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        } catch {
            throw AgentError.startup("tls_server_config: cannot use \(tls.certFile) and \(tls.keyFile): \(error)")
        }
    }
}

/// HTTP basic auth against bcrypt hashes. A password that matched once is remembered,
/// so scrapes don't pay for bcrypt each time (as exporter-toolkit does).
struct BasicAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let users: [String: String]
    let verified = VerifiedPasswords()

    final class VerifiedPasswords: Sendable {
        let set = Mutex<Set<String>>([])
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6))).flatMap({ String(data: $0, encoding: .utf8) }
            ),
            let colon = decoded.firstIndex(of: ":"), let hash = users[String(decoded[..<colon])]
        else {
            return unauthorized
        }
        let password = String(decoded[decoded.index(after: colon)...])
        let key = decoded + "\u{0}" + hash
        if !verified.set.withLock({ $0.contains(key) }) {
            guard Bcrypt.verify(password, hash: hash) else { return unauthorized }
            verified.set.withLock { _ = $0.insert(key) }
        }
        return try await next(request, context)
    }

    private var unauthorized: Response {
        Response(
            status: .unauthorized, headers: [.wwwAuthenticate: "Basic realm=\"bridgeport\""],
            body: .init(byteBuffer: ByteBuffer(string: "Unauthorized\n")))
    }
}
