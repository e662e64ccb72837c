import Hummingbird
import Synchronization
import Testing

@testable import Daemon

@Suite struct SharedScrapesTests {
    /// Scrapes that arrive while one renders share its body; the next wave renders anew.
    @Test func concurrentScrapesShareOneRender() async {
        let scrapes = SharedScrapes()
        let renders = Mutex(0)
        let render: @Sendable () async -> SharedScrapes.Body = {
            let n = renders.withLock {
                $0 += 1
                return $0
            }
            try? await Task.sleep(for: .milliseconds(200))
            return SharedScrapes.Body(bytes: ByteBuffer(string: "render \(n)"), compressed: false)
        }
        let bodies = await withTaskGroup(of: String.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    String(buffer: await scrapes.body(format: .prometheus, gzip: false, render: render).bytes)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(renders.withLock { $0 } == 1)
        #expect(Set(bodies) == ["render 1"])

        let later = await scrapes.body(format: .prometheus, gzip: false, render: render)
        #expect(String(buffer: later.bytes) == "render 2", "nothing is kept after a wave")
        let other = await scrapes.body(format: .openMetrics, gzip: false, render: render)
        #expect(String(buffer: other.bytes) == "render 3", "another format is another render")
    }
}
