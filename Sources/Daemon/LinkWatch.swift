import Datapath
import FoundationEssentials
import Glibc
import Links
import Logging
import ServiceLifecycle
import Synchronization

/// Tells the agent about links deleted in its namespace (a container's veth removed with
/// `ip link del`, say), about links that appear or change (a new uplink) and about IPv4
/// addresses that come and go, as the kernel announces them; and that some were lost, when
/// the kernel dropped them. The netlink socket is read on a thread of its own, so that its
/// blocking wait never holds a thread of Swift's cooperative pool; events reach the agent
/// through an AsyncStream, a burst of address changes as one.
struct LinkWatch: Service {
    let agent: Agent
    let logger: Logger

    func run() async throws {
        let events = try LinkEvents()
        // The datapath learns of links as they are read, and in their order (what it keeps
        // of them for scrapes), from the links there are once subscribed: the events queued
        // meanwhile correct what it found.
        let datapath = agent.datapath
        await agent.attachNewUplinks()  // those that came before the subscription
        let stopped = Mutex(false)
        let (stream, continuation) = AsyncStream.makeStream(of: [LinkEvents.Event].self)
        startThread {
            datapath.followLinkEvents(true)
            // A short wait, so that the thread notices a stop within a quarter second.
            while !stopped.withLock({ $0 }), let batch = events.next(timeoutMilliseconds: 250) {
                datapath.linkEvents(batch)
                if !batch.isEmpty { continuation.yield(batch) }
            }
            datapath.followLinkEvents(false)
            continuation.finish()
        }
        defer { stopped.withLock { $0 = true } }
        for await batch in stream.cancelOnGracefulShutdown() {
            for event in batch {
                switch event {
                case .linkRemoved(let ifindex, let name): await agent.linkRemoved(ifindex: ifindex, name: name)
                // Most are Bridgeport's own veths: only a possible uplink is worth the hop.
                case .linkChanged(let link) where link.isUp && LinkAlias.isUplink(link): await agent.linkChanged(link)
                case .linkChanged, .addressChanged, .eventsLost: break
                }
            }
            if batch.contains(.eventsLost) {
                await agent.linkEventsLost()  // the host's addresses too
            } else if batch.contains(where: { if case .addressChanged = $0 { true } else { false } }) {
                await agent.hostAddressesChanged()
            }
        }
    }
}
