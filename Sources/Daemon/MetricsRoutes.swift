import Hummingbird
import NIOCore

/// The HTTP endpoint Prometheus scrapes: /metrics, /healthz and a small index page.
enum MetricsRoutes {
    static func router(agent: Agent, basicAuthUsers: [String: String]?) -> Router<BasicRequestContext> {
        let router = Router()
        if let users = basicAuthUsers, !users.isEmpty { router.add(middleware: BasicAuthMiddleware(users: users)) }
        router.get("/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string:
                            "<html><head><title>Bridgeport</title></head><body><h1>Bridgeport</h1><p><a href=\"/metrics\">Metrics</a></p></body></html>\n"
                    )))
        }
        router.get("healthz") { _, _ in "ok\n" }
        let scrapes = SharedScrapes()
        router.get("metrics") { request, _ in
            let format = ExpositionFormat(accept: request.headers[.accept])
            let gzip = Gzip.accepted(by: request.headers[.acceptEncoding])
            let body = await scrapes.body(format: format, gzip: gzip) {
                let text: [UInt8]
                do {
                    text = format.bytes(try await agent.metricFamilies())
                } catch {
                    return SharedScrapes.Body(
                        bytes: ByteBuffer(string: "reading the counters failed: \(error)\n"),
                        compressed: false, failed: true)
                }
                if gzip, let compressed = Gzip.compress(text) {
                    return SharedScrapes.Body(bytes: ByteBuffer(bytes: compressed), compressed: true)
                }
                return SharedScrapes.Body(bytes: ByteBuffer(bytes: text), compressed: false)
            }
            if body.failed {
                return Response(
                    status: .internalServerError, headers: [.contentType: "text/plain; charset=utf-8"],
                    body: .init(byteBuffer: body.bytes))
            }
            var headers: HTTPFields = [.contentType: format.contentType]
            if body.compressed { headers[.contentEncoding] = "gzip" }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body.bytes))
        }
        return router
    }
}

/// Scrapes that arrive while one is being read and rendered share its result: however
/// many Prometheus servers (or clients of one) ask at once, the maps are read and the
/// text rendered once per wave, off the agent's actor. Nothing is kept after the wave:
/// a scrape never gets counters older than the scrape in flight when it arrived.
actor SharedScrapes {
    struct Body: Sendable {
        var bytes: ByteBuffer
        var compressed: Bool
        /// The maps could not be read: `bytes` says why.
        var failed = false
    }

    private struct Kind: Hashable {
        let format: ExpositionFormat
        let gzip: Bool
    }

    private var inFlight: [Kind: Task<Body, Never>] = [:]

    func body(format: ExpositionFormat, gzip: Bool, render: @escaping @Sendable () async -> Body) async -> Body {
        let kind = Kind(format: format, gzip: gzip)
        if let wave = inFlight[kind] { return await wave.value }
        let wave = Task { await render() }
        inFlight[kind] = wave
        let body = await wave.value
        inFlight[kind] = nil
        return body
    }
}
