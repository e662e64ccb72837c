import CBPF
import Glibc
import Synchronization

/// Which tc hook of a device.
public enum TCDirection: String, Sendable, CaseIterable {
    /// Packets the device receives (for a container's host-side veth: what the container sends).
    case ingress
    /// Packets the device transmits (for a host-side veth: what the container receives).
    case egress
}

/// How a tc program is attached.
public enum TCAttachMode: String, Sendable, CaseIterable {
    /// A tcx link (Linux ≥ 6.6): lives while its fd is open or it is pinned; survives
    /// agent restarts when pinned; replaced atomically with `replace(program:)`.
    case tcx
    /// Fallback: a clsact qdisc and a cls_bpf filter in direct-action mode. Lives on the
    /// device until detached (or the device goes); not pinnable.
    case tc
}

/// A tc program attached to a device, in either mode.
public final class TCAttachment: Sendable {
    public let mode: TCAttachMode
    public let ifindex: UInt32
    public let direction: TCDirection
    /// For `.tc`: the cls_bpf filter's handle and priority.
    public let handle: UInt32
    public let priority: UInt32
    /// For `.tcx`: the link's fd (closed on deinit; the link ends then unless pinned).
    public let linkFD: Int32
    private let pin = Mutex<String?>(nil)
    /// Where the tcx link is pinned, if it is.
    public var pinPath: String? { pin.withLock { $0 } }

    init(
        mode: TCAttachMode, ifindex: UInt32, direction: TCDirection, linkFD: Int32 = -1,
        handle: UInt32 = 0, priority: UInt32 = 0, pinPath: String? = nil
    ) {
        self.mode = mode
        self.ifindex = ifindex
        self.direction = direction
        self.linkFD = linkFD
        self.handle = handle
        self.priority = priority
        pin.withLock { $0 = pinPath }
    }

    deinit {
        if linkFD >= 0 { close(linkFD) }
    }

    /// Pins a tcx link at `path` (a file name on bpffs) so that it outlives this process.
    /// A `.tc` filter needs no pin (it stays on the device): this is a no-op for it.
    public func pin(at path: String) throws {
        guard mode == .tcx else { return }
        if bpf_obj_pin(linkFD, path) != 0 { throw BPFError.pinFailed(path: path, errno: Glibc.errno) }
        pin.withLock { $0 = path }
    }

    /// Removes the pin (the link then ends when this object goes, unless detached first).
    public func unpin() throws {
        guard let path = pinPath else { return }
        if unlink(path) != 0 && Glibc.errno != ENOENT {
            throw BPFError.detachFailed(what: "pin \(path)", errno: Glibc.errno)
        }
        pin.withLock { $0 = nil }
    }

    /// Detaches now and removes the pin, if any. For `.tc`, call it in the network
    /// namespace of the device (the ifindex is resolved there).
    public func detach() throws {
        switch mode {
        case .tcx:
            if linkFD >= 0 && bpf_link_detach(linkFD) != 0 {
                let err = Glibc.errno
                if err != ENOLINK && err != ENOENT {  // already detached (device gone)
                    throw BPFError.detachFailed(what: "tcx link on ifindex \(ifindex) \(direction)", errno: err)
                }
            }
            try unpin()
        case .tc:
            let ret = cbpf_tc_detach(Int32(ifindex), direction == .egress ? 1 : 0, handle, priority)
            if ret < 0 && -ret != ENOENT {
                throw BPFError.detachFailed(
                    what: "tc filter \(handle):\(priority) on ifindex \(ifindex) \(direction)", errno: -ret)
            }
        }
    }

    /// Atomically swaps the attached program (agent upgrade) without a window
    /// where packets pass unprocessed.
    public func replace(program: BPFProgram) throws {
        switch mode {
        case .tcx:
            if bpf_link_update(linkFD, program.fd, nil) != 0 {
                throw BPFError.attachFailed(
                    program: program.name, ifindex: ifindex, hook: "tcx \(direction) update", errno: Glibc.errno)
            }
        case .tc:
            let ret = cbpf_tc_attach(program.fd, Int32(ifindex), direction == .egress ? 1 : 0, handle, priority, 1)
            if ret < 0 {
                throw BPFError.attachFailed(
                    program: program.name, ifindex: ifindex, hook: "tc \(direction) replace", errno: -ret)
            }
        }
    }

    /// Id of the attached program (0 if none).
    public var programID: UInt32 {
        switch mode {
        case .tcx:
            var info = cbpf_link_info()
            return cbpf_link_info(linkFD, &info) == 0 ? info.prog_id : 0
        case .tc:
            var id: UInt32 = 0
            return cbpf_tc_query(Int32(ifindex), direction == .egress ? 1 : 0, handle, priority, &id) == 0 ? id : 0
        }
    }

    /// Opens a tcx link pinned by an earlier run (e.g. after an agent restart).
    public static func openPinned(_ path: String) throws -> TCAttachment {
        let fd = bpf_obj_get(path)
        if fd < 0 { throw BPFError.detachFailed(what: "open pinned link \(path)", errno: errnoOf(fd)) }
        var info = cbpf_link_info()
        let ret = cbpf_link_info(fd, &info)
        guard ret == 0, info.type == UInt32(CBPF_LINK_TYPE_TCX) else {
            close(fd)
            throw BPFError.detachFailed(what: "\(path) is not a tcx link", errno: ret < 0 ? -ret : EINVAL)
        }
        return TCAttachment(
            mode: .tcx, ifindex: info.ifindex,
            direction: info.attach_type == UInt32(CBPF_ATTACH_TCX_EGRESS) ? .egress : .ingress,
            linkFD: fd, pinPath: path)
    }

    /// Detaches the tcx link pinned at `path` and removes the pin. Missing pin: no-op.
    public static func detachPinned(_ path: String) throws {
        if access(path, F_OK) != 0 { return }
        try openPinned(path).detach()
    }
}

extension BPFProgram {
    /// Attaches this tc program to `ifindex` (in the calling thread's network
    /// namespace) at `direction`.
    ///
    /// - `.tcx`: appends a tcx link (after programs already attached); pins it at
    ///   `pinPath` if given. Throws `.unsupported` before Linux 6.6: use `.tc` then.
    /// - `.tc`: creates clsact if missing and adds a direct-action cls_bpf filter
    ///   with `handle`/`priority`, replacing one with the same handle/priority.
    public func attach(
        ifindex: UInt32, direction: TCDirection, mode: TCAttachMode = .tcx,
        pinPath: String? = nil, handle: UInt32 = 1, priority: UInt32 = 1
    ) throws -> TCAttachment {
        let egress: Int32 = direction == .egress ? 1 : 0
        switch mode {
        case .tcx:
            let fd = cbpf_tcx_attach(fd, Int32(ifindex), egress)
            if fd < 0 {
                let err = -fd
                switch err {
                case EINVAL where !TCAttachment.kernelHasTCX:
                    throw BPFError.unsupported(
                        feature: "tcx links", errno: err,
                        hint: "Linux 6.6 or newer is needed; use attach mode \"tc\" (clsact) instead")
                case EPERM, EACCES:
                    throw BPFError.permissionDenied(operation: "attach \(name) to ifindex \(ifindex)", errno: err)
                default:
                    throw BPFError.attachFailed(program: name, ifindex: ifindex, hook: "tcx \(direction)", errno: err)
                }
            }
            let attachment = TCAttachment(mode: .tcx, ifindex: ifindex, direction: direction, linkFD: fd)
            if let pinPath {
                do { try attachment.pin(at: pinPath) } catch {
                    _ = try? attachment.detach()
                    throw error
                }
            }
            return attachment
        case .tc:
            let ret = cbpf_tc_attach(fd, Int32(ifindex), egress, handle, priority, 1)
            if ret < 0 {
                let err = -ret
                if err == EPERM || err == EACCES {
                    throw BPFError.permissionDenied(operation: "attach \(name) to ifindex \(ifindex)", errno: err)
                }
                throw BPFError.attachFailed(
                    program: name, ifindex: ifindex, hook: "tc \(direction) (clsact)", errno: err)
            }
            return TCAttachment(mode: .tc, ifindex: ifindex, direction: direction, handle: handle, priority: priority)
        }
    }
}

extension TCAttachment {
    /// Removes the cls_bpf filter `attach(mode: .tc)` put on `ifindex` (by its handle and
    /// priority), leaving the clsact qdisc and other filters on the device. Call it in the
    /// device's network namespace.
    public static func detachFilter(
        ifindex: UInt32, direction: TCDirection, handle: UInt32 = 1, priority: UInt32 = 1
    ) throws {
        try TCAttachment(mode: .tc, ifindex: ifindex, direction: direction, handle: handle, priority: priority)
            .detach()
    }

    /// Removes the clsact qdisc of `ifindex` and with it every tc filter on both hooks
    /// (cleanup for mode `.tc`).
    public static func removeClsact(ifindex: UInt32) throws {
        let ret = cbpf_tc_destroy_clsact(Int32(ifindex))
        if ret < 0 && -ret != ENOENT && -ret != EINVAL {
            throw BPFError.detachFailed(what: "clsact on ifindex \(ifindex)", errno: -ret)
        }
    }

    /// Linux ≥ 6.6 (tcx): from uname(2).
    static let kernelHasTCX: Bool = {
        var u = utsname()
        guard uname(&u) == 0 else { return true }
        let release = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2 else { return true }
        return parts[0] > 6 || (parts[0] == 6 && parts[1] >= 6)
    }()
}
