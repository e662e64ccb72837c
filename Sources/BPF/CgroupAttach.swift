import CBPF
import Glibc

/// Cgroup hooks (socket programs) attached as pinned BPF links.
extension BPFProgram {
    /// Attaches this program to the cgroup v2 directory at `cgroupPath` for `type`
    /// (e.g. BPF_CGROUP_INET4_CONNECT) and pins the link at `pinPath`. A link pinned there
    /// by an earlier run is switched to this program instead, without a gap.
    public func attachCgroup(_ cgroupPath: String, type: bpf_attach_type, pinPath: String) throws {
        let pinned = bpf_obj_get(pinPath)
        if pinned >= 0 {
            defer { close(pinned) }
            if bpf_link_update(pinned, fd, nil) == 0 { return }
            unlink(pinPath)  // a stale pin: attach anew below
        }
        let cgroup = open(cgroupPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard cgroup >= 0 else {
            throw BPFError.filesystem(path: cgroupPath, operation: "open cgroup", errno: Glibc.errno)
        }
        defer { close(cgroup) }
        let link = bpf_link_create(fd, cgroup, type, nil)
        guard link >= 0 else {
            throw BPFError.attachFailed(program: name, ifindex: 0, hook: "cgroup \(cgroupPath)", errno: Glibc.errno)
        }
        defer { close(link) }
        if bpf_obj_pin(link, pinPath) != 0 { throw BPFError.pinFailed(path: pinPath, errno: Glibc.errno) }
    }
}
