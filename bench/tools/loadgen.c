/*
 * loadgen: the TCP load generator and echo server of the path benchmarks (Linux, libc only).
 *
 *   loadgen serve PORT [PORT ...] [--threads N]   echo server on [::]:PORT... (both families)
 *   loadgen rr HOST PORT SECONDS                  1-byte request/response on one connection
 *   loadgen crr HOST PORT SECONDS [--threads T]   connect, 1-byte exchange, close, repeated
 *
 * HOST is an IPv4 or IPv6 address (or a name); the client speaks the family it resolves to.
 * The server listens on [::] with IPV6_V6ONLY off, so one listener takes IPv4 (as mapped
 * addresses) and IPv6 alike; where the kernel has no IPv6 at all it listens on 0.0.0.0.
 *
 * serve: N threads (default: online CPUs), each with its own SO_REUSEPORT listener per port
 * and its own epoll loop over nonblocking sockets, so no lock or shared queue is on the path.
 * It echoes whatever it reads. TCP_NODELAY is set on the listeners; accepted sockets inherit
 * it. SIGTERM or SIGINT ends it with status 0.
 *
 * Protocol. The first byte a client sends picks the connection's style:
 *   'R' (rr)   the server keeps the connection open and echoes every byte back;
 *   'C' (crr)  the server echoes that read and then closes the connection itself.
 * A crr client sends 'C', reads the echo, waits for the server's FIN (read returns 0) and
 * only then closes. So the server makes the active close and holds TIME_WAIT, and the client
 * only passes through CLOSE_WAIT and LAST_ACK, which end one round trip after its close().
 * The client thus never accumulates TIME_WAIT sockets and gets its ephemeral ports back at
 * once: the sustainable rate is not bounded by ip_local_port_range / 60 s. A TIME_WAIT on
 * the server does not block the client from reusing the port: a new SYN for that 4-tuple
 * with a newer timestamp (Linux clients' timestamps rise per address pair) reopens it.
 * Closes are ordinary FIN exchanges (no SO_LINGER 0 / RST) so every path sees real teardown.
 * No sysctl is needed on either side; the server's namespace holds at most one TIME_WAIT
 * per client port in use (about half of ip_local_port_range: connect() prefers one parity).
 *
 * Output: rr prints "transactions_per_second <float>"; crr prints "connections_per_second
 * <float>" and "errors <int>" (failed iterations, by cause on stderr) and exits 1 if errors
 * > 0. Every socket wait (connect, send, receive) times out after 2 s. Bad usage exits 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 2000
#define LISTENER (1ULL << 32) /* epoll data: fd in the low bits, flags above */
#define KEEP_OPEN (1ULL << 33) /* connection whose first byte was not 'C' */
#define MAX_ERRNO 256

enum stage { CONNECT, SEND, RECV_ECHO, RECV_EOF, STAGES };
static const char *stage_name[STAGES] = { "connect", "send", "receive echo", "wait for server close" };

/* Bad usage is the caller's bug, not a measurement failure: say how to call, exit 2. */
static void usage(const char *why)
{
    if (why)
        fprintf(stderr, "loadgen: %s\n", why);
    fprintf(stderr, "usage: loadgen serve PORT [PORT ...] [--threads N]\n"
                    "       loadgen rr HOST PORT SECONDS\n"
                    "       loadgen crr HOST PORT SECONDS [--threads T]\n");
    exit(2);
}

/* A failure of the run itself: one clear line on stderr, exit 1. */
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Numbers come from scripts; reject anything not wholly a number in range. */
static long parse_num(const char *s, long min, long max, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        char msg[128];
        snprintf(msg, sizeof msg, "bad %s '%s' (%ld..%ld)", what, s, min, max);
        usage(msg);
    }
    return v;
}

/* Monotonic seconds; clock_gettime goes through the vDSO, cheap enough per iteration. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The timeouts bound every blocking call: connect uses SO_SNDTIMEO, recv SO_RCVTIMEO. */
static void set_timeouts(int fd)
{
    struct timeval tv = { TIMEOUT_MS / 1000, (TIMEOUT_MS % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Where a client connects: an IPv4 or IPv6 address, resolved once. */
struct target {
    struct sockaddr_storage addr;
    socklen_t len;
    int family;
};

/* Resolve once, before timing starts, so no lookup is measured; the first answer's family. */
static struct target resolve(const char *host, const char *port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc)
        die("cannot resolve %s:%s: %s", host, port, gai_strerror(rc));
    struct target t = { .len = res->ai_addrlen, .family = res->ai_family };
    memcpy(&t.addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return t;
}

/* Timeouts report EAGAIN (recv) or EINPROGRESS (connect); name them as what they are. */
static const char *err_text(int e)
{
    if (e == EAGAIN || e == EINPROGRESS)
        return "timed out (2 s)";
    return e ? strerror(e) : "unexpected end of stream or data";
}

/* ------------------------------------------------------------------------- server */

/* SIGTERM is how benchmarks stop the server: a normal end, status 0. */
static void on_term(int sig)
{
    (void)sig;
    _exit(0);
}

/* One listener per thread per port: SO_REUSEPORT spreads connections over the threads.
 * [::] with IPV6_V6ONLY off serves both families; 0.0.0.0 on a kernel without IPv6. */
static int listen_on(int port)
{
    int one = 1, zero = 0, fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_ANY_INIT };
    struct sockaddr_in sa4 = { .sin_family = AF_INET, .sin_port = htons(port) };
    struct sockaddr *sa = (struct sockaddr *)&sa6;
    socklen_t len = sizeof sa6;
    if (fd < 0 && errno == EAFNOSUPPORT) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sa = (struct sockaddr *)&sa4;
        len = sizeof sa4;
    } else if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0) {
        die("IPV6_V6ONLY off on port %d: %s", port, strerror(errno));
    }
    if (fd < 0)
        die("socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited by accept */
    if (bind(fd, sa, len) < 0 || listen(fd, 4096) < 0)
        die("listen on port %d: %s", port, strerror(errno));
    return fd;
}

/* Echo must not drop bytes; a peer that stops reading for 2 s loses its connection. */
static int send_all(int fd, const char *buf, ssize_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w > 0) {
            buf += w;
            n -= w;
        } else if (w < 0 && errno == EAGAIN) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            if (poll(&p, 1, TIMEOUT_MS) <= 0)
                return -1;
        } else if (w < 0 && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* A thread's whole life: its epoll set holds its own listeners and its connections. */
static void *serve_thread(void *arg)
{
    int ep = (int)(intptr_t)arg;
    struct epoll_event ev[256];
    static __thread char buf[65536];
    for (;;) {
        int n = epoll_wait(ep, ev, 256, -1);
        for (int i = 0; i < n; i++) {
            uint64_t d = ev[i].data.u64;
            int fd = (int)(uint32_t)d;
            if (d & LISTENER) {
                int c;
                while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event ce = { .events = EPOLLIN, .data.u64 = (uint32_t)c };
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce) < 0)
                        close(c);
                }
                continue;
            }
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0 || send_all(fd, buf, r) < 0) {
                close(fd); /* EOF, reset or stuck peer; close also leaves the epoll set */
            } else if (!(d & KEEP_OPEN)) {
                if (buf[0] == 'C') {
                    close(fd); /* crr: the server closes first and keeps the TIME_WAIT */
                } else {
                    struct epoll_event ce = { .events = EPOLLIN, .data.u64 = d | KEEP_OPEN };
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ce);
                }
            }
        }
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
    }
    return NULL;
}

/* Binds every listener before any thread starts, so a busy port fails the start at once. */
static int serve_main(int nports, char **ports, int threads)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max; /* many open connections under load */
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    pthread_t tid;
    for (int t = 0; t < threads; t++) {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
            die("epoll_create1: %s", strerror(errno));
        for (int p = 0; p < nports; p++) {
            int fd = listen_on((int)parse_num(ports[p], 1, 65535, "port"));
            struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTENER | (uint32_t)fd };
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                die("epoll_ctl: %s", strerror(errno));
        }
        if (t == threads - 1)
            serve_thread((void *)(intptr_t)ep); /* the main thread serves too; never returns */
        else if ((errno = pthread_create(&tid, NULL, serve_thread, (void *)(intptr_t)ep)))
            die("pthread_create: %s", strerror(errno));
    }
    return 0;
}

/* ------------------------------------------------------------------------- rr */

/* Latency of one connection: each transaction waits for the previous one's echo. */
static int rr_main(const struct target *to, double seconds)
{
    int fd = socket(to->family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        die("socket: %s", strerror(errno));
    set_timeouts(fd);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)&to->addr, to->len) < 0)
        die("rr: connect: %s", err_text(errno));
    long count = 0;
    char c = 'R';
    double start = now(), end = start + seconds, t = start;
    while (t < end) {
        if (send(fd, "R", 1, MSG_NOSIGNAL) != 1)
            die("rr: send: %s", err_text(errno));
        ssize_t r = recv(fd, &c, 1, 0);
        if (r < 0)
            die("rr: receive: %s", err_text(errno));
        if (r == 0 || c != 'R')
            die("rr: the server closed the connection or sent something else");
        count++;
        t = now();
    }
    close(fd);
    printf("transactions_per_second %.1f\n", count / (t - start));
    return 0;
}

/* ------------------------------------------------------------------------- crr */

struct crr_worker {
    pthread_t tid;
    const struct target *to;
    pthread_barrier_t *go;
    double seconds, end;
    long ok, errors;
    long err[STAGES][MAX_ERRNO]; /* failures by stage and errno (0: protocol error) */
};

/* One connection's life; returns the stage that failed (its errno in *e) or -1 if fine. */
static int crr_once(const struct target *to, int *e)
{
    char buf[2];
    int stage = CONNECT, fd = socket(to->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ssize_t r = 0;
    if (fd < 0)
        goto fail;
    set_timeouts(fd);
    /* No TCP_NODELAY: the single write has nothing unacknowledged ahead of it. */
    if (connect(fd, (const struct sockaddr *)&to->addr, to->len) < 0)
        goto fail;
    stage = SEND;
    if (send(fd, "C", 1, MSG_NOSIGNAL) != 1)
        goto fail;
    stage = RECV_ECHO;
    if ((r = recv(fd, buf, 2, 0)) != 1 || buf[0] != 'C')
        goto fail;
    stage = RECV_EOF; /* the server's FIN: it, not us, holds the TIME_WAIT */
    if ((r = recv(fd, buf, 2, 0)) != 0)
        goto fail;
    close(fd);
    return -1;
fail:
    *e = r < 0 || fd < 0 || stage <= SEND ? errno : 0;
    if (fd >= 0)
        close(fd);
    return stage;
}

/* A client thread loops until its deadline; failures are counted, never fatal. */
static void *crr_thread(void *arg)
{
    struct crr_worker *w = arg;
    pthread_barrier_wait(w->go);
    double t = now(), end = t + w->seconds;
    while (t < end) {
        int e = 0, stage = crr_once(w->to, &e);
        if (stage < 0) {
            w->ok++;
        } else {
            w->errors++;
            w->err[stage][e >= 0 && e < MAX_ERRNO ? e : 0]++;
        }
        t = now();
    }
    w->end = t;
    return NULL;
}

/* Connection rate over all threads: successful connections / wall time of the run. */
static int crr_main(const struct target *to, double seconds, int threads)
{
    struct crr_worker *w = calloc(threads, sizeof *w);
    pthread_barrier_t go;
    if (!w)
        die("out of memory");
    pthread_barrier_init(&go, NULL, threads + 1);
    for (int i = 0; i < threads; i++) {
        w[i].to = to;
        w[i].go = &go;
        w[i].seconds = seconds;
        if ((errno = pthread_create(&w[i].tid, NULL, crr_thread, &w[i])))
            die("pthread_create: %s", strerror(errno));
    }
    pthread_barrier_wait(&go);
    double start = now(), end = start;
    long ok = 0, errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].tid, NULL);
        ok += w[i].ok;
        errors += w[i].errors;
        if (w[i].end > end)
            end = w[i].end;
    }
    for (int s = 0; s < STAGES; s++)
        for (int e = 0; e < MAX_ERRNO; e++) {
            long n = 0;
            for (int i = 0; i < threads; i++)
                n += w[i].err[s][e];
            if (n)
                fprintf(stderr, "loadgen: crr: %ld errors at %s: %s\n", n, stage_name[s], err_text(e));
        }
    printf("connections_per_second %.1f\nerrors %ld\n", ok / (end - start), errors);
    free(w);
    return errors > 0;
}

/* ------------------------------------------------------------------------- main */

/* Splits --threads out of the arguments, then dispatches on the mode. */
int main(int argc, char **argv)
{
    char *pos[argc];
    int npos = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            usage(NULL);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = (int)parse_num(argv[++i], 1, 1024, "thread count");
        else if (!strncmp(argv[i], "--", 2))
            usage("unknown option or missing value");
        else
            pos[npos++] = argv[i];
    }
    if (npos < 1)
        usage(NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(pos[0], "serve") && npos >= 2) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        return serve_main(npos - 1, pos + 1, threads ? threads : (cpus > 0 ? (int)cpus : 1));
    }
    if ((!strcmp(pos[0], "rr") || !strcmp(pos[0], "crr")) && npos == 4) {
        parse_num(pos[2], 1, 65535, "port");
        double seconds = (double)parse_num(pos[3], 1, 86400, "duration in seconds");
        struct target to = resolve(pos[1], pos[2]);
        if (pos[0][0] == 'r') {
            if (threads)
                usage("rr runs on one connection; --threads is for serve and crr");
            return rr_main(&to, seconds);
        }
        return crr_main(&to, seconds, threads ? threads : 1);
    }
    usage("unknown mode or wrong number of arguments");
    return 2;
}
