import CLinux
import Glibc

/// Links removed and IPv4 addresses added or deleted in this network namespace, as the
/// kernel announces them (RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR): how the agent learns of
/// a veth deleted behind its back, or of an uplink address that changed.
public final class LinkEvents: @unchecked Sendable {
    public enum Event: Sendable, Equatable {
        case linkRemoved(ifindex: UInt32, name: String)
        case addressChanged(ifindex: UInt32)
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
            bp_link_events_read(fd, timeoutMilliseconds, { event, ifindex, name, context in
                let list = context!.assumingMemoryBound(to: [Event].self)
                if event == Int32(BP_ADDRESS_CHANGED.rawValue) {
                    list.pointee.append(.addressChanged(ifindex: UInt32(ifindex)))
                } else {
                    list.pointee.append(.linkRemoved(ifindex: UInt32(ifindex), name: String(cString: name!)))
                }
            }, list)
        }
        return rc < 0 ? nil : found
    }
}
