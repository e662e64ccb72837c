import Foundation
import Links
import Logging
import ServiceLifecycle
import Synchronization

/// Tells the agent about links deleted in its namespace (a container's veth removed with
/// `ip link del`, say) as the kernel announces them. The netlink socket is read on a
/// thread of its own, so that its blocking wait never holds a thread of Swift's
/// cooperative pool; removals reach the agent through an AsyncStream.
struct LinkWatch: Service {
    let agent: Agent
    let logger: Logger

    func run() async throws {
        let removals = try LinkRemovals()
        let stopped = Mutex(false)
        let (stream, continuation) = AsyncStream.makeStream(of: LinkRemovals.Removal.self)
        let thread = Thread {
            // A short wait, so that the thread notices a stop within a quarter second.
            while !stopped.withLock({ $0 }), let batch = removals.next(timeoutMilliseconds: 250) {
                batch.forEach { continuation.yield($0) }
            }
            continuation.finish()
        }
        thread.start()
        defer { stopped.withLock { $0 = true } }
        for await removal in stream.cancelOnGracefulShutdown() {
            await agent.linkRemoved(ifindex: removal.ifindex, name: removal.name)
        }
    }
}
