#define _GNU_SOURCE  /* unshare */
#include "cbpf.h"

#include <bpf/btf.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <sched.h>
#include <unistd.h>
#include <sys/vfs.h>

int cbpf_is_bpffs(const char *path)
{
	struct statfs st;
	if (statfs(path, &st) != 0)
		return -errno;
	return (unsigned long)st.f_type == CBPF_FS_MAGIC;
}

/* ---- log capture ------------------------------------------------------------ */

#define LOG_CAP (256 * 1024)

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[LOG_CAP];
static size_t log_len;
static int log_debug;
static int log_echo;

static void log_append(const char *s, size_t n)
{
	if (n >= LOG_CAP) { /* keep the tail: the end of a verifier log matters most */
		s += n - (LOG_CAP - 1);
		n = LOG_CAP - 1;
	}
	if (log_len + n >= LOG_CAP) {
		size_t drop = log_len + n - (LOG_CAP - 1);
		memmove(log_buf, log_buf + drop, log_len - drop);
		log_len -= drop;
	}
	memcpy(log_buf + log_len, s, n);
	log_len += n;
	log_buf[log_len] = '\0';
}

static int log_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !log_debug)
		return 0;

	char small[1024];
	va_list copy;
	va_copy(copy, ap);
	int n = vsnprintf(small, sizeof(small), fmt, copy);
	va_end(copy);
	if (n < 0)
		return n;

	char *text = small;
	if ((size_t)n >= sizeof(small)) {
		text = malloc((size_t)n + 1);
		if (!text)
			return -ENOMEM;
		vsnprintf(text, (size_t)n + 1, fmt, ap);
	}
	pthread_mutex_lock(&log_lock);
	log_append(text, (size_t)n);
	if (log_echo)
		fputs(text, stderr);
	pthread_mutex_unlock(&log_lock);
	if (text != small)
		free(text);
	return n;
}

void cbpf_log_capture(int debug, int echo)
{
	pthread_mutex_lock(&log_lock);
	log_debug = debug;
	log_echo = echo;
	pthread_mutex_unlock(&log_lock);
	libbpf_set_print(log_print);
}

void cbpf_log_clear(void)
{
	pthread_mutex_lock(&log_lock);
	log_len = 0;
	log_buf[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

char *cbpf_log_take(void)
{
	pthread_mutex_lock(&log_lock);
	char *copy = strndup(log_buf, log_len);
	log_len = 0;
	log_buf[0] = '\0';
	pthread_mutex_unlock(&log_lock);
	return copy;
}

/* ---- objects -------------------------------------------------------------------- */

struct bpf_object *cbpf_object_open(const char *path, const char *pin_root)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);
	struct bpf_object *obj = bpf_object__open_file(path, &opts);
	if (!obj && errno == 0)
		errno = EINVAL;
	return obj;
}

/* ---- tcx -------------------------------------------------------------------------- */

int cbpf_tcx_attach(int prog_fd, int ifindex, int egress)
{
	/* libbpf 1.1's bpf_link_create passes unknown attach types through: with
	 * flags 0 and no relative program, the link is appended to the chain. */
	int fd = bpf_link_create(prog_fd, ifindex,
				 (enum bpf_attach_type)(egress ? CBPF_ATTACH_TCX_EGRESS : CBPF_ATTACH_TCX_INGRESS),
				 NULL);
	if (fd < 0)
		return -errno;
	return fd;
}

/* struct bpf_link_info as of Linux 6.6, trimmed to what we read. */
struct link_info_6_6 {
	__u32 type;
	__u32 id;
	__u32 prog_id;
	union {
		struct {
			__u32 ifindex;
			__u32 attach_type;
		} tcx;
		__u8 other[32];
		__u64 align; /* the kernel's union holds __aligned_u64 members: it starts at offset 16 */
	};
};

int cbpf_link_info(int link_fd, struct cbpf_link_info *out)
{
	struct link_info_6_6 info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(link_fd, &info, &len) < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	out->type = info.type;
	out->id = info.id;
	out->prog_id = info.prog_id;
	if (info.type == CBPF_LINK_TYPE_TCX) {
		out->ifindex = info.tcx.ifindex;
		out->attach_type = info.tcx.attach_type;
	}
	return 0;
}

/* ---- clsact + cls_bpf --------------------------------------------------------------- */

int cbpf_tc_attach(int prog_fd, int ifindex, int egress, __u32 handle, __u32 priority, int replace)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = handle,
		    .priority = priority, .flags = replace ? BPF_TC_F_REPLACE : 0);

	int err = bpf_tc_hook_create(&hook); /* clsact serves both hooks */
	if (err && err != -EEXIST)
		return err;
	err = bpf_tc_attach(&hook, &opts);
	return err < 0 ? err : 0;
}

int cbpf_tc_detach(int ifindex, int egress, __u32 handle, __u32 priority)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = priority);
	int err = bpf_tc_detach(&hook, &opts);
	return err < 0 ? err : 0;
}

int cbpf_tc_query(int ifindex, int egress, __u32 handle, __u32 priority, __u32 *prog_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = priority);
	int err = bpf_tc_query(&hook, &opts);
	if (err < 0)
		return err;
	*prog_id = opts.prog_id;
	return 0;
}

int cbpf_tc_destroy_clsact(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int err = bpf_tc_hook_destroy(&hook);
	return err < 0 ? err : 0;
}

/* ---- test run ------------------------------------------------------------------------- */

int cbpf_test_run_skb(int prog_fd, const void *packet, __u32 size, __u32 ifindex, __u32 *retval)
{
	struct __sk_buff ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.ifindex = ifindex;

	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = packet,
		    .data_size_in = size,
		    .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx),
		    .repeat = 1);
	int err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err < 0)
		return -errno;
	*retval = opts.retval;
	return 0;
}

/* ---- kernel features ------------------------------------------------------------------ */

#define INSN(code, dst, src, off, imm) ((struct bpf_insn){ code, dst, src, off, imm })

static int load_tc_program(const struct bpf_insn *insns, size_t count)
{
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "bp_probe", "GPL", insns, count, NULL);
	return fd < 0 ? -errno : fd;
}

/*
 * bpf_fib_lookup(skb, &params, 64, BPF_FIB_LOOKUP_SRC) with params all zero, run once on a
 * blank frame: a kernel that knows the flag gets as far as the family (0: -EAFNOSUPPORT);
 * one that does not refuses the flags first (-EINVAL).
 */
int cbpf_probe_fib_lookup_src(void)
{
	struct bpf_insn insns[16];
	size_t n = 0;

	insns[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0);
	insns[n++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -64);
	for (int off = -64; off < 0; off += 8)
		insns[n++] = INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, off, 0);
	insns[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 64);
	insns[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 1 << 4 /* BPF_FIB_LOOKUP_SRC */);
	insns[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_fib_lookup);
	insns[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	int fd = load_tc_program(insns, n);
	if (fd < 0)
		return fd;
	unsigned char frame[64] = { 0 };
	__u32 retval = 0;
	int err = cbpf_test_run_skb(fd, frame, sizeof(frame), 0, &retval);
	close(fd);
	if (err < 0)
		return err;
	return (int)retval != -EINVAL;
}

int cbpf_probe_redirect_peer(void)
{
	int rc = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect_peer, NULL);
	return rc < 0 ? rc : rc > 0;
}

int cbpf_probe_kernel_btf(void)
{
	/* The running kernel's own (a vmlinux file under /boot, which libbpf also takes, would
	 * not do: the kfunc and the typed load are verified against the kernel's BTF). */
	struct btf *btf = btf__parse("/sys/kernel/btf/vmlinux", NULL);

	if (!btf)
		return errno == ENOENT ? 0 : -errno;
	btf__free(btf);
	return 1;
}

struct tcx_probe {
	int prog_fd;
	int rc;
};

static void *tcx_probe_thread(void *arg)
{
	struct tcx_probe *probe = arg;

	if (unshare(CLONE_NEWNET) < 0) {
		probe->rc = -errno;
		return NULL;
	}
	int link = cbpf_tcx_attach(probe->prog_fd, 1 /* lo */, 0);
	/* Kernels without tcx refuse the attach type. */
	probe->rc = link >= 0 ? 1 : (link == -EINVAL || link == -EOPNOTSUPP ? 0 : link);
	if (link >= 0)
		close(link);
	return NULL;
}

int cbpf_probe_tcx(void)
{
	const struct bpf_insn insns[] = {
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, -1 /* TCX_NEXT */),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	struct tcx_probe probe = { .prog_fd = load_tc_program(insns, 2), .rc = 0 };
	if (probe.prog_fd < 0)
		return probe.prog_fd;
	pthread_t thread;
	int err = pthread_create(&thread, NULL, tcx_probe_thread, &probe);
	if (err)
		probe.rc = -err;
	else
		pthread_join(thread, NULL);
	close(probe.prog_fd);
	return probe.rc;
}

/* ---- names ------------------------------------------------------------------------------ */

/* <linux/bpf.h>'s own list of helpers, in id order; from Linux 6.2 on, its FN takes the id
 * too and the list has no commas of its own. */
#ifdef ___BPF_FUNC_MAPPER
#define CBPF_HELPER_NAME(name, ...) #name,
#else
#define CBPF_HELPER_NAME(name) #name
#endif
static const char *const helper_names[] = { __BPF_FUNC_MAPPER(CBPF_HELPER_NAME) };
_Static_assert(sizeof(helper_names) / sizeof(helper_names[0]) == __BPF_FUNC_MAX_ID, "one name per helper id");

const char *cbpf_helper_name(__u32 id)
{
	return id < __BPF_FUNC_MAX_ID ? helper_names[id] : NULL;
}
