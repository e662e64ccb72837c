import Foundation
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTLS
import NIOSSL
import Synchronization
import Yams

/// The web configuration file of Prometheus exporters (`--web.config.file`, the
/// exporter-toolkit format): TLS for the metrics endpoint and basic auth users with
/// bcrypt-hashed passwords.
struct WebConfiguration: Decodable {
    struct TLSServer: Decodable {
        var certFile: String
        var keyFile: String

        enum CodingKeys: String, CodingKey {
            case certFile = "cert_file"
            case keyFile = "key_file"
        }
    }

    var tlsServerConfig: TLSServer?
    var basicAuthUsers: [String: String]?

    enum CodingKeys: String, CodingKey {
        case tlsServerConfig = "tls_server_config"
        case basicAuthUsers = "basic_auth_users"
    }

    static func load(_ path: String) throws -> WebConfiguration {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw AgentError.startup("cannot read --web.config.file \(path): \(error.localizedDescription)")
        }
        do {
            return try YAMLDecoder().decode(WebConfiguration.self, from: text.isEmpty ? "{}" : text)
        } catch {
            throw AgentError.startup("invalid --web.config.file \(path): \(error)")
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
