/*
 * CBPF: what Swift needs from libbpf that it cannot call directly (option
 * structs built with LIBBPF_OPTS, a va_list print callback, uapi constants newer
 * than Debian 12's headers), plus the shared contract bpf/bridgeport.h.
 * Everything else (the logic) lives in Sources/BPF.
 *
 * Conventions: functions return >= 0 on success and a negative errno on
 * failure (errno is set too).
 */
#ifndef CBPF_H
#define CBPF_H

#include <stddef.h>
#include <linux/types.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "../../../bpf/bridgeport.h"

/* uapi values newer than Debian 12's <linux/bpf.h> (Linux 6.6+ ABI). */
#define CBPF_ATTACH_TCX_INGRESS 46 /* BPF_TCX_INGRESS */
#define CBPF_ATTACH_TCX_EGRESS  47 /* BPF_TCX_EGRESS */
#define CBPF_LINK_TYPE_TCX      11 /* BPF_LINK_TYPE_TCX */
#define CBPF_FS_MAGIC           0xcafe4a11u /* BPF_FS_MAGIC */

/* 1 if path is on a bpffs, 0 if not, negative errno if statfs fails. */
int cbpf_is_bpffs(const char *path);

/* ---- libbpf's log, captured into a buffer ---------------------------------- */

/* Route libbpf's messages into an in-memory buffer (idempotent). Messages at
 * DEBUG level are kept only if debug != 0. With echo != 0 they are also
 * written to stderr. */
void cbpf_log_capture(int debug, int echo);
/* Discard what was captured so far. */
void cbpf_log_clear(void);
/* Copy of the captured text (NUL terminated, malloc'ed: free() it); the most
 * recent ~256 KiB are kept. Clears the buffer. */
char *cbpf_log_take(void);

/* ---- objects ------------------------------------------------------------------ */

/* bpf_object__open_file with pin_root_path (may be NULL). NULL + errno on error. */
struct bpf_object *cbpf_object_open(const char *path, const char *pin_root);

/* Opens an object embedded at build time (e.g. "endpoint.bpf.o"); NULL with errno
 * ENOENT when the binary was built without it. */
struct bpf_object *cbpf_object_open_embedded(const char *name, const char *pin_root);
/* 1 when the binary carries the BPF objects. */
int cbpf_has_embedded_objects(void);

/* ---- tcx (Linux >= 6.6) ------------------------------------------------------- */

/* bpf_link_create(prog, ifindex, BPF_TCX_INGRESS/EGRESS): returns the link fd.
 * The program is appended after those already attached. */
int cbpf_tcx_attach(int prog_fd, int ifindex, int egress);

struct cbpf_link_info {
	__u32 type;        /* BPF_LINK_TYPE_*, CBPF_LINK_TYPE_TCX for tcx */
	__u32 id;
	__u32 prog_id;
	__u32 ifindex;     /* tcx only */
	__u32 attach_type; /* tcx only: CBPF_ATTACH_TCX_* */
};
int cbpf_link_info(int link_fd, struct cbpf_link_info *out);

/* ---- clsact + cls_bpf direct-action (any kernel with clsact) ------------------ */

/* Create the clsact qdisc if missing and attach prog_fd as a direct-action
 * cls_bpf filter with the given handle and priority (both non-zero), replacing
 * a filter with the same handle/priority if replace != 0. */
int cbpf_tc_attach(int prog_fd, int ifindex, int egress, __u32 handle, __u32 priority, int replace);
/* Remove that filter (the clsact qdisc stays). */
int cbpf_tc_detach(int ifindex, int egress, __u32 handle, __u32 priority);
/* Program id of that filter, or -ENOENT. */
int cbpf_tc_query(int ifindex, int egress, __u32 handle, __u32 priority, __u32 *prog_id);
/* Delete the clsact qdisc (and with it every tc filter on both hooks). */
int cbpf_tc_destroy_clsact(int ifindex);

/* ---- BPF_PROG_TEST_RUN for tc programs ----------------------------------------- */

/* Run a SCHED_CLS program once on a packet (starting with the Ethernet header)
 * with __sk_buff.ifindex = ifindex (the device must exist in the caller's network
 * namespace; 0 means loopback). Stores the program's return value in *retval. */
int cbpf_test_run_skb(int prog_fd, const void *packet, __u32 size, __u32 ifindex, __u32 *retval);

/* ---- kernel features the programs need ---------------------------------------------
 * Each returns 1 when the running kernel has the feature, 0 when it has not, and a
 * negative errno when the probe itself could not run (no CAP_BPF, say). */

/* bpf_fib_lookup with BPF_FIB_LOOKUP_SRC (Linux 6.7): masquerade's source address. */
int cbpf_probe_fib_lookup_src(void);
/* bpf_redirect_peer from tc programs (Linux 5.10). */
int cbpf_probe_redirect_peer(void);
/* The kernel's own BTF (CONFIG_DEBUG_INFO_BTF, /sys/kernel/btf/vmlinux): the programs read
 * an sk_buff field __sk_buff does not show at the offset it gives (CO-RE). */
int cbpf_probe_kernel_btf(void);
/* tcx links (Linux 6.6), attached to lo of a network namespace that a thread of the
 * probe's own makes and that goes with it: the caller's namespace is never touched. */
int cbpf_probe_tcx(void);

/* ---- names ---------------------------------------------------------------------------- */

/* The name of BPF helper `id` as <linux/bpf.h> lists it (BPF_FUNC_map_lookup_elem:
 * "map_lookup_elem"), or NULL past the list. Map types' names: libbpf_bpf_map_type_str. */
const char *cbpf_helper_name(__u32 id);

#endif /* CBPF_H */
