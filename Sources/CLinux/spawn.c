// Container processes: a detached supervisor ("shim") per container, exec into a running
// container, process start times.
//
// The caller is a multi-threaded Swift process, and the shim is forked with the raw system
// call (glibc's fork bookkeeping does not run: its locks, cached thread ID and malloc state
// are stale in the copy), so the children make system calls only: paths, lengths and the
// executable are all prepared before forking. No malloc, stdio or pthread call there.
#define _GNU_SOURCE
#include "clinux.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

extern char **environ;

// ---- helpers that are safe after fork -------------------------------------------------

// Finds file the way execvp does (PATH search unless it contains '/'), with stat/access
// only. 0 and out filled, -ENOENT when not found, -EACCES when found but not executable.
static int find_executable(const char *file, const char *path_env, char *out, size_t size) {
    size_t flen = strlen(file);
    if (flen == 0) return -ENOENT;
    if (strchr(file, '/')) {
        if (flen >= size) return -ENAMETOOLONG;
        memcpy(out, file, flen + 1);
        return 0;
    }
    if (!path_env) path_env = "/usr/local/bin:/usr/bin:/bin";
    int rc = -ENOENT;
    for (const char *p = path_env;; p++) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        if (dlen == 0) { p = "."; dlen = 1; }   // an empty entry means the current dir
        if (dlen + 1 + flen < size) {
            memcpy(out, p, dlen);
            out[dlen] = '/';
            memcpy(out + dlen + 1, file, flen + 1);
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
                if (access(out, X_OK) == 0) return 0;
                rc = -EACCES;
            }
        }
        if (!end) break;
        p = end;
    }
    return rc;
}

static void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

static void write_str(int fd, const char *s) { write_all(fd, s, strlen(s)); }

// Reads exactly len bytes; returns the number read (short only on EOF or error).
static size_t read_full(int fd, void *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    return got;
}

static int wait_exit_code(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -errno;
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

// Default dispositions for every signal and an empty mask, as a fresh process would have.
static void reset_signals(void) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL);   // errors for KILL/STOP: fine
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

// Closes every fd >= 3 except those in keep (sorted ascending, all >= 3).
static void close_other_fds(const int *keep, int n) {
    unsigned lo = 3;
    for (int i = 0; i < n; i++) {
        if (keep[i] < 0) continue;
        if ((unsigned)keep[i] > lo) close_range(lo, (unsigned)keep[i] - 1, 0);
        lo = (unsigned)keep[i] + 1;
    }
    close_range(lo, ~0U, 0);
}

static void sort_fds(int *fds, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
            int t = fds[j]; fds[j] = fds[j - 1]; fds[j - 1] = t;
        }
}

// ---- confinement ----------------------------------------------------------------------

// Docker's default masked paths (an empty read-only tmpfs over directories, /dev/null over
// files) and read-only ones, in the container's own mount namespace.
static const char *const masked_paths[] = {
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" };

// An empty read-only tmpfs over a directory, /dev/null over anything else; a path that
// does not exist is left alone.
static int hide(const char *path) {
    struct stat st;
    if (stat(path, &st) < 0) return 0;
    return S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL)
                               : mount("/dev/null", path, NULL, MS_BIND, NULL);
}

static int mask_paths(const struct bp_confinement *c) {
    struct stat st;
    for (const char *const *path = c->hidden_paths; path && *path; path++)
        if (hide(*path) < 0) return -1;
    if (c->privileged) return 0;
    for (size_t i = 0; i < sizeof masked_paths / sizeof masked_paths[0]; i++)
        if (hide(masked_paths[i]) < 0) return -1;
    // sysfs read-only, with everything mounted below it, as Docker mounts it.
    struct mount_attr readonly = { .attr_set = MOUNT_ATTR_RDONLY };
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/sys", AT_RECURSIVE, &readonly, sizeof readonly) < 0) return -1;
    for (size_t i = 0; i < sizeof readonly_paths / sizeof readonly_paths[0]; i++) {
        if (stat(readonly_paths[i], &st) < 0) continue;
        if (mount(readonly_paths[i], readonly_paths[i], NULL, MS_BIND | MS_REC, NULL) < 0) return -1;
        if (mount(NULL, readonly_paths[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL) < 0) return -1;
    }
    return 0;
}

// Keeps only the given capabilities, in every set, for this process and what it execs
// (root's permitted set after execve is its bounding and inheritable sets), and sets
// no_new_privs. Async-signal-safe: system calls only.
static int confine(const struct bp_confinement *c) {
    if (c->privileged) return 0;
    for (int cap = 0; cap < 64; cap++) {
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) break;   // past the kernel's last capability
        if (!(c->capabilities & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return -1;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return -1;
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    for (int i = 0; i < 2; i++) {
        __u32 half = (__u32)(c->capabilities >> (32 * i));
        data[i].effective = data[i].permitted = data[i].inheritable = half;
    }
    if (syscall(SYS_capset, &header, data) < 0) return -1;
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

// ---- spawn ----------------------------------------------------------------------------

// Everything the shim and the container need, prepared before fork.
struct spawn_ctx {
    const struct bp_spawn_opts *o;
    char exe[PATH_MAX];            // resolved argv[0]
    char exit_tmp[PATH_MAX];       // exit_file + ".tmp", renamed into place
    size_t hostname_len;
    int netns;                     // -1 when keeping the caller's
    int status_w;                  // to the caller: container pid, or -errno
    int execerr_r, execerr_w;      // container -> shim: errno when it could not exec
};

static void report(int fd, int32_t value) { write_all(fd, &value, sizeof value); }

// The container: enter its namespaces, set up /etc files and stdio, exec.
static _Noreturn void run_container(const struct spawn_ctx *c) {
    const struct bp_spawn_opts *o = c->o;
    static const char *const targets[] = { "/etc/hosts", "/etc/resolv.conf", "/etc/hostname" };
    const char *sources[] = { o->hosts_file, o->resolv_file, o->hostname_file };

    if (c->netns >= 0 && setns(c->netns, CLONE_NEWNET) < 0) goto fail;
    if (unshare(CLONE_NEWNS | (o->new_uts ? CLONE_NEWUTS : 0)) < 0) goto fail;
    // Keep our bind mounts from propagating back to the host.
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) goto fail;
    if (o->new_uts && o->hostname && sethostname(o->hostname, c->hostname_len) < 0) goto fail;
    if (o->new_uts && o->domainname && setdomainname(o->domainname, strlen(o->domainname)) < 0) goto fail;
    for (int i = 0; i < 3; i++)
        if (sources[i] && mount(sources[i], targets[i], NULL, MS_BIND, NULL) < 0) goto fail;
    // Attached (`run -i`/`-t`): the caller's own terminal or pipes, reached through the
    // host's /proc, before the container's own /proc hides the caller.
    int in = -1, out = -1, errfd = -1;
    if (o->attach_pid > 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/fd/1", (int)o->attach_pid);
        out = open(path, O_WRONLY | O_CLOEXEC);
        snprintf(path, sizeof path, "/proc/%d/fd/2", (int)o->attach_pid);
        errfd = open(path, O_WRONLY | O_CLOEXEC);
        snprintf(path, sizeof path, "/proc/%d/fd/0", (int)o->attach_pid);
        if (o->attach_stdin) in = open(path, O_RDONLY | O_CLOEXEC);
        if (out < 0 || errfd < 0 || (o->attach_stdin && in < 0)) goto fail;
    }
    // The container is PID 1 of a PID namespace of its own: its /proc shows only its
    // processes, and when it ends the kernel kills every process it left behind.
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) goto fail;

    // Its log lies in the agent's state directory, hidden next: open it first.
    if (in < 0) in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0) {
        out = o->log_file ? open(o->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)
                          : open("/dev/null", O_WRONLY | O_CLOEXEC);
        errfd = out;
    }
    if (in < 0 || out < 0) goto fail;
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0) goto fail;   // clears CLOEXEC
    if (mask_paths(&o->confinement) < 0) goto fail;

    reset_signals();
    if (confine(&o->confinement) < 0) goto fail;
    execve(c->exe, o->argv, environ);
fail:;
    int32_t err = errno;
    report(c->execerr_w, err);
    _exit(127);
}

static int run_container_entry(void *ctx) { run_container(ctx); }

// Starts fn(arg) in a child that shares our memory until it execs or exits, as
// posix_spawn does (clone with CLONE_VM | CLONE_VFORK; we resume once it has exec'd or
// died), with the extra clone flags given. Unlike a fork, nothing of this process's
// address space is copied for such a child, nor torn down again when it ends. The child
// makes only system calls and uses its own stack.
static pid_t start_sharing_memory(int (*fn)(void *), void *arg, int flags) {
    enum { STACK_SIZE = 256 * 1024 };
    char *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -1;
    pid_t pid = clone(fn, stack + STACK_SIZE, CLONE_VM | CLONE_VFORK | flags | SIGCHLD, arg);
    int err = errno;
    munmap(stack, STACK_SIZE);
    errno = err;
    return pid;
}

// The shim: detached from the caller, starts the container, reports its pid, waits for
// it and records the exit code.
static _Noreturn void run_shim(struct spawn_ctx *c) {
    prctl(PR_SET_NAME, "bridgeport-shim", 0, 0, 0);
    reset_signals();   // SIGCHLD in particular must not be ignored, or waitpid fails
    if (chdir("/") < 0) { /* keep the cwd; harmless */ }

    // Move our fds out of 0-2 (possible if the caller had them closed), then make the
    // standard fds /dev/null and close everything else the caller had open.
    int *mine[] = { &c->netns, &c->status_w, &c->execerr_r, &c->execerr_w };
    for (int i = 0; i < 4; i++)
        if (*mine[i] >= 0 && *mine[i] < 3) *mine[i] = fcntl(*mine[i], F_DUPFD_CLOEXEC, 3);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0); dup2(null, 1); dup2(null, 2);
    }
    int keep[] = { c->netns, c->status_w, c->execerr_r, c->execerr_w };
    sort_fds(keep, 4);
    close_other_fds(keep, 4);

    // The container, as PID 1 of a new PID namespace.
    pid_t child = start_sharing_memory(run_container_entry, c, CLONE_NEWPID);
    if (child < 0) {
        report(c->status_w, -errno);
        _exit(1);
    }

    close(c->execerr_w);
    if (c->netns >= 0) close(c->netns);
    int32_t err;
    if (read_full(c->execerr_r, &err, sizeof err) == sizeof err) {
        // The container never started: tell the caller and leave no exit file.
        report(c->status_w, -err);
        wait_exit_code(child);
        _exit(1);
    }
    close(c->execerr_r);
    report(c->status_w, child);
    close(c->status_w);

    int code = wait_exit_code(child);
    if (code < 0) code = 255;
    // "%d\n" by hand, written to a temporary file and renamed so readers never see it empty.
    char buf[8];
    int n = sizeof buf;
    buf[--n] = '\n';
    do { buf[--n] = (char)('0' + code % 10); code /= 10; } while (code > 0);
    int fd = open(c->exit_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        write_all(fd, buf + n, sizeof buf - (size_t)n);
        close(fd);
        rename(c->exit_tmp, c->o->exit_file);
    }
    _exit(0);
}

// The intermediate child (sharing the caller's memory): a new session, and the shim
// forked from it. The raw system call, not fork(): glibc's would run its fork handlers
// and take its locks in the memory we share with the caller.
static int detach_shim(void *arg) {
    struct spawn_ctx *c = arg;
    setsid();
    pid_t shim = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, NULL, NULL, 0UL);
    if (shim < 0) report(c->status_w, -errno);
    else if (shim == 0) run_shim(c);
    _exit(0);
}

int bp_spawn(const struct bp_spawn_opts *opts, pid_t *pid) {
    struct spawn_ctx c = { .o = opts, .netns = -1 };
    int status[2] = { -1, -1 }, execerr[2] = { -1, -1 };
    if (!opts->argv || !opts->argv[0] || !opts->exit_file) return -EINVAL;

    int rc = find_executable(opts->argv[0], getenv("PATH"), c.exe, sizeof c.exe);
    if (rc < 0) return rc;
    if (snprintf(c.exit_tmp, sizeof c.exit_tmp, "%s.tmp", opts->exit_file) >= (int)sizeof c.exit_tmp)
        return -ENAMETOOLONG;
    c.hostname_len = opts->hostname ? strlen(opts->hostname) : 0;
    if (opts->netns_path && (c.netns = open(opts->netns_path, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    if (pipe2(status, O_CLOEXEC) < 0 || pipe2(execerr, O_CLOEXEC) < 0) {
        rc = -errno;
        goto out;
    }
    c.status_w = status[1];
    c.execerr_r = execerr[0];
    c.execerr_w = execerr[1];

    // Double fork: the intermediate child starts a new session and exits at once, so the
    // shim is reparented to init and outlives the caller. Only the shim is a fork: the
    // intermediate shares our memory while we wait for it, so the agent's address space is
    // copied once per container, not twice (a millisecond or more each). Signals stay
    // blocked until the shim resets them: no handler of ours runs in the shared memory.
    // Every signal, glibc's internal ones too (sigfillset leaves those out), as posix_spawn
    // blocks them: by the raw system call.
    sigset_t all, mask;
    memset(&all, 0xff, sizeof all);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &mask, _NSIG / 8);
    pid_t first = start_sharing_memory(detach_shim, &c, 0);
    int err = errno;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, _NSIG / 8);
    if (first < 0) {
        rc = -err;
        goto out;
    }
    // Only the shim and the container may hold these: the shim waits for EOF on execerr.
    close(status[1]);
    close(execerr[0]);
    close(execerr[1]);
    status[1] = execerr[0] = execerr[1] = -1;

    int32_t msg;
    if (read_full(status[0], &msg, sizeof msg) != sizeof msg) rc = -ECHILD;
    else if (msg < 0) rc = msg;
    else *pid = msg;
    // The intermediate has let go of our memory (clone returned then) and exits: reaped now.
    wait_exit_code(first);   // ECHILD if someone else reaps it: fine

out:
    for (int i = 0; i < 2; i++) {
        if (status[i] >= 0) close(status[i]);
        if (execerr[i] >= 0) close(execerr[i]);
    }
    if (c.netns >= 0) close(c.netns);
    return rc;
}

// ---- exec into a running container ----------------------------------------------------

// Like the shim's container step, but joins an existing container's namespaces.
int bp_exec_in(pid_t pid, char *const argv[], struct bp_confinement confinement) {
    static const char *const names[] = { "net", "uts", "pid", "mnt" };
    static const int types[] = { CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWPID, CLONE_NEWNS };
    enum { NAMESPACES = 4 };
    int fds[NAMESPACES] = { -1, -1, -1, -1 }, errpipe[2] = { -1, -1 }, rc = 0;
    char path[64];

    if (!argv || !argv[0]) return -EINVAL;
    for (int i = 0; i < NAMESPACES; i++) {
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, names[i]);
        if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            rc = errno == ENOENT ? -ESRCH : -errno;
            goto out;
        }
    }
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        rc = -errno;
        goto out;
    }
    const char *path_env = getenv("PATH");
    char exe[PATH_MAX];

    // Like system(): the caller ignores ^C/^\ while the command runs (the terminal sends
    // them to both), the command gets the caller's original dispositions.
    struct sigaction ign, old_int, old_quit;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);

    pid_t child = fork();
    if (child == 0) {
        // Single-threaded now, so joining the mount namespace is allowed.
        for (int i = 0; i < NAMESPACES; i++)
            if (setns(fds[i], types[i]) < 0) {
                int32_t err = errno;
                write_all(errpipe[1], &err, sizeof err);
                _exit(125);
            }
        if (chdir("/") < 0) { /* stay where setns put us */ }
        // Confined before anything enters the container's PID namespace, where its
        // processes could otherwise attach to one holding every capability.
        if (confine(&confinement) < 0) {
            int32_t err = errno;
            write_all(errpipe[1], &err, sizeof err);
            _exit(125);
        }
        // Joining a PID namespace places our children in it, not us: the command runs in
        // a child, whose exit code we pass on.
        pid_t command = fork();
        if (command < 0) {
            int32_t err = errno;
            write_all(errpipe[1], &err, sizeof err);
            _exit(125);
        }
        if (command > 0) {
            int code = wait_exit_code(command);
            _exit(code < 0 ? 255 : code);
        }
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);

        // Resolved inside the container's mount namespace.
        int found = find_executable(argv[0], path_env, exe, sizeof exe);
        int err = -found;
        if (found == 0) {
            execve(exe, argv, environ);
            err = errno;
        }
        const char *why = err == ENOENT && !strchr(argv[0], '/') ? "executable file not found in $PATH"
                        : err == ENOENT ? "no such file or directory"
                        : err == EACCES ? "permission denied"
                        : err == ENOEXEC ? "exec format error"
                        : "cannot execute";
        write_str(2, "exec: \"");
        write_str(2, argv[0]);
        write_str(2, "\": ");
        write_str(2, why);
        write_str(2, "\n");
        _exit(err == ENOENT ? 127 : 126);
    }
    if (child < 0) rc = -errno;
    close(errpipe[1]);
    errpipe[1] = -1;
    if (child > 0) {
        int32_t err;
        int code = wait_exit_code(child);
        if (read_full(errpipe[0], &err, sizeof err) == sizeof err) rc = -err;
        else rc = code;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);

out:
    for (int i = 0; i < NAMESPACES; i++)
        if (fds[i] >= 0) close(fds[i]);
    for (int i = 0; i < 2; i++)
        if (errpipe[i] >= 0) close(errpipe[i]);
    return rc;
}

// ---- process identity -----------------------------------------------------------------

int bp_pidfd_open(pid_t pid) {
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : fd;
}

int bp_process_start_time(pid_t pid, unsigned long long *ticks) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? -ESRCH : -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int saved = errno;
    close(fd);
    if (n < 0) return saved == ESRCH ? -ESRCH : -saved;
    buf[n] = '\0';

    // comm (field 2) may contain spaces and parentheses: fields resume after the last ')'.
    char *p = strrchr(buf, ')');
    if (!p) return -EINVAL;
    p++;
    for (int field = 3; field < 22; field++) {   // skip fields 3..21
        p = strchr(p + 1, ' ');
        if (!p) return -EINVAL;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p + 1, &end, 10);
    if (end == p + 1 || errno) return -EINVAL;
    *ticks = v;
    return 0;
}
