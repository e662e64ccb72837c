import API
import Foundation
import Hummingbird

/// The HTTP endpoint Prometheus scrapes. This first version exports the agent's own
/// gauges; per-container traffic comes with the exporter.
enum MetricsRoutes {
    static func router(agent: Agent) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string:
                "<html><head><title>Bridgeport</title></head><body><h1>Bridgeport</h1><p><a href=\"/metrics\">Metrics</a></p></body></html>\n")))
        }
        router.get("healthz") { _, _ in "ok\n" }
        router.get("metrics") { _, _ in
            let info = await agent.info()
            let text = """
                # HELP bridgeport_build_info Bridgeport version, always 1.
                # TYPE bridgeport_build_info gauge
                bridgeport_build_info{version="\(info.version)"} 1
                # HELP bridgeport_networks Networks the agent manages.
                # TYPE bridgeport_networks gauge
                bridgeport_networks \(info.networks)
                # HELP bridgeport_containers Containers the agent manages, by state.
                # TYPE bridgeport_containers gauge
                bridgeport_containers{state="running"} \(info.running)
                bridgeport_containers{state="stopped"} \(info.containers - info.running)
                # HELP bridgeport_published_ports Host ports published to containers.
                # TYPE bridgeport_published_ports gauge
                bridgeport_published_ports \(info.publishedPorts)

                """
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        return router
    }
}
