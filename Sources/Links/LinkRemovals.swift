import CLinux
import Glibc

/// Links removed in this network namespace, as the kernel announces them (RTM_DELLINK):
/// how the agent learns of a veth or bridge deleted behind its back.
public final class LinkRemovals: @unchecked Sendable {
    public struct Removal: Sendable, Equatable {
        public let ifindex: UInt32
        public let name: String
    }

    private let fd: Int32

    public init() throws(LinkError) {
        let fd = bp_link_events_open()
        guard fd >= 0 else { throw .netlink(operation: "subscribe to", object: "link events", errno: -fd) }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Waits up to `timeoutMilliseconds` for removals; [] when none came, nil once the
    /// socket is unusable.
    public func next(timeoutMilliseconds: Int32) -> [Removal]? {
        var found: [Removal] = []
        let rc = withUnsafeMutablePointer(to: &found) { list in
            bp_link_events_read(fd, timeoutMilliseconds, { ifindex, name, context in
                let list = context!.assumingMemoryBound(to: [Removal].self)
                list.pointee.append(Removal(ifindex: UInt32(ifindex), name: String(cString: name!)))
            }, list)
        }
        return rc < 0 ? nil : found
    }
}
