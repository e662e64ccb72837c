import CLinux
import Glibc

/// Links removed, added or changed and IPv4 addresses added or deleted in this network
/// namespace, as the kernel announces them (RTM_DELLINK, RTM_NEWLINK, RTM_NEWADDR,
/// RTM_DELADDR): how the agent learns of a veth deleted behind its back, of a new uplink,
/// or of an uplink address that changed.
public final class LinkEvents: Sendable {
    public enum Event: Sendable, Equatable {
        case linkRemoved(ifindex: UInt32, name: String)
        /// A new link, or one whose state changed (up, master, alias...). Its kind is nil.
        case linkChanged(LinkInfo)
        case addressChanged(ifindex: UInt32)
        /// The kernel dropped events (the socket's buffer was full): any link may have changed.
        case eventsLost
    }

    private let fd: Int32

    public init() throws(LinkError) {
        let fd = bp_link_events_open()
        guard fd >= 0 else { throw .netlink(operation: "subscribe to", object: "link events", errno: -fd) }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Waits up to `timeoutMilliseconds` for events; [] when none came, nil once the
    /// socket is unusable.
    public func next(timeoutMilliseconds: Int32) -> [Event]? {
        var found: [Event] = []
        let rc = withUnsafeMutablePointer(to: &found) { list in
            bp_link_events_read(
                fd, timeoutMilliseconds,
                { event, link, context in
                    let list = context!.assumingMemoryBound(to: [Event].self)
                    let link = LinkInfo(link!.pointee)
                    switch event {
                    case Int32(BP_ADDRESS_CHANGED.rawValue):
                        list.pointee.append(.addressChanged(ifindex: UInt32(link.index)))
                    case Int32(BP_LINK_CHANGED.rawValue): list.pointee.append(.linkChanged(link))
                    default: list.pointee.append(.linkRemoved(ifindex: UInt32(link.index), name: link.name))
                    }
                }, list)
        }
        if rc == Int32(BP_LINK_EVENTS_LOST) { found.append(.eventsLost) }
        return rc < 0 ? nil : found
    }
}
