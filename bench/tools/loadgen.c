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
 *
 * Small packets. udp sends IPv4 datagrams of an 18-byte payload (the smallest Ethernet frame:
 * 14 + 20 + 8 + 18 = 60 bytes before the FCS) over N flows, source ports 10000 to 10000+N-1,
 * as fast as it can: it writes the UDP header itself on a raw socket, so that one sendmmsg
 * carries B datagrams (default 32) of B consecutive flows and the flows rotate from packet
 * to packet (N sockets could only batch one flow's datagrams). It first warms up: two passes
 * of one datagram per flow (payload 'W'), then 200 ms of quiet, so that every flow has its
 * conntrack or flow-table entry before the measured datagrams (payload 'D') start; a path
 * thus runs at its steady state, not at its rate of new flows. It prints
 * "sent_per_second", "sent_packets" and "send_errors" (failed sendmmsg calls, not fatal).
 * udp-recv binds [::]:PORT (both families), prints "ready" once bound, and reads with
 * recvmmsg (source addresses included, as a server would) into a large receive buffer. Once
 * datagrams come it spins on the socket instead of sleeping in poll() (where the machine has
 * more than one CPU): a receiver that sleeps has to be woken, by the sender's CPU (where every
 * hop's softirq runs), as often as it has emptied the socket, so a faster receive path would
 * cost the sender more and measure slower. It counts the measured datagrams from the first to
 * the last and ends 0.5 s after the last one (30 s if none came at all, then exit 1): "received_per_second" is their count over that
 * time, "received_packets" the count, "flows" the distinct source ports among them and
 * "warmup_packets" the warm-up datagrams that arrived.
 * --cpu C pins the process (sched_setaffinity) to CPU C.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
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
#define UDP_PAYLOAD 18
#define UDP_BATCH_MAX 256
#define UDP_FIRST_PORT 10000 /* flow i's source port: 10000 + i */

enum stage { CONNECT, SEND, RECV_ECHO, RECV_EOF, STAGES };
static const char *stage_name[STAGES] = { "connect", "send", "receive echo", "wait for server close" };

/* Bad usage is the caller's bug, not a measurement failure: say how to call, exit 2. */
static void usage(const char *why)
{
    if (why)
        fprintf(stderr, "loadgen: %s\n", why);
    fprintf(stderr, "usage: loadgen serve PORT [PORT ...] [--threads N]\n"
                    "       loadgen rr HOST PORT SECONDS\n"
                    "       loadgen crr HOST PORT SECONDS [--threads T]\n"
                    "       loadgen udp HOST PORT SECONDS --flows N [--batch B] [--cpu C]\n"
                    "       loadgen udp-recv PORT [--cpu C]\n");
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

/* --cpu: the whole process on one CPU, so a run does not depend on where the scheduler
 * puts it (the benchmarks pin senders and receivers to different CPUs). */
static void pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        die("pin to CPU %d: %s", cpu, strerror(errno));
}

/* ------------------------------------------------------------------------- server */

/* SIGTERM is how benchmarks stop the server: a normal end, status 0. */
static void on_term(int sig)
{
    (void)sig;
    _exit(0);
}

/* A socket bound to PORT of every address: [::] with IPV6_V6ONLY off serves both families;
 * 0.0.0.0 on a kernel without IPv6. TCP: SO_REUSEPORT, one listener per thread and port. */
static int bind_any(int port, int type)
{
    int one = 1, zero = 0, fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_ANY_INIT };
    struct sockaddr_in sa4 = { .sin_family = AF_INET, .sin_port = htons(port) };
    struct sockaddr *sa = (struct sockaddr *)&sa6;
    socklen_t len = sizeof sa6;
    if (fd < 0 && errno == EAFNOSUPPORT) {
        fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sa = (struct sockaddr *)&sa4;
        len = sizeof sa4;
    } else if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0) {
        die("IPV6_V6ONLY off on port %d: %s", port, strerror(errno));
    }
    if (fd < 0)
        die("socket: %s", strerror(errno));
    if (type == SOCK_STREAM) { /* a UDP port stays exclusive: a stray receiver fails the bind */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    if (bind(fd, sa, len) < 0)
        die("bind port %d: %s", port, strerror(errno));
    return fd;
}

/* One listener per thread per port: SO_REUSEPORT spreads connections over the threads. */
static int listen_on(int port)
{
    int one = 1, fd = bind_any(port, SOCK_STREAM);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited by accept */
    if (listen(fd, 4096) < 0)
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

/* ------------------------------------------------------------------------- udp */

/* The Internet checksum: SUM plus DATA's 16-bit words (LEN even), folded and inverted.
 * memcpy, not a uint16_t pointer: the headers are other types (strict aliasing). */
static uint16_t csum_fold(uint32_t sum, const void *data, size_t len)
{
    for (size_t i = 0; i < len; i += 2) {
        uint16_t w;
        memcpy(&w, (const char *)data + i, 2);
        sum += w;
    }
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* One datagram: the IPv4 header holds the addresses for the checksum (the kernel writes the
 * header it sends); the raw socket is given the UDP header and payload. */
struct udp_packet {
    struct iphdr ip;
    struct udphdr udp;
    char payload[UDP_PAYLOAD];
} __attribute__((packed));

/* Flow i's datagram: source port UDP_FIRST_PORT + i, the UDP checksum over the pseudo-header. */
static void udp_packet_for(struct udp_packet *p, uint16_t sport, char kind)
{
    p->udp.source = htons(sport);
    p->payload[0] = kind;
    p->udp.check = 0;
    struct {
        uint32_t saddr, daddr;
        uint8_t zero, protocol;
        uint16_t len;
    } pseudo = { p->ip.saddr, p->ip.daddr, 0, IPPROTO_UDP, p->udp.len };
    uint32_t sum = (uint16_t)~csum_fold(0, &pseudo, sizeof pseudo);
    p->udp.check = csum_fold(sum, &p->udp, sizeof p->udp + sizeof p->payload);
    if (!p->udp.check)
        p->udp.check = 0xffff; /* 0 would mean "no checksum" */
}

/* N flows from one raw socket: each sendmmsg carries B datagrams of B consecutive flows
 * (the source port changes from one datagram to the next), so flows rotate per packet and
 * the syscall is paid once per batch. IPv4 only. A raw UDP socket, not IP_HDRINCL: with
 * its own IP header a datagram's route is made anew and freed for every packet unless the
 * destination is behind a gateway (the kernel's FLOWI_FLAG_KNOWN_NH), which cost the
 * sender about a tenth more per datagram toward an on-link address than toward a routed one. */
static int udp_main(const struct target *to, double seconds, int flows, int batch)
{
    if (to->family != AF_INET)
        die("udp: IPv4 destinations only");
    const struct sockaddr_in *dst = (const struct sockaddr_in *)&to->addr;
    /* The source address the route gives, for the checksum: a connected UDP socket's. */
    struct sockaddr_in src;
    socklen_t len = sizeof src;
    int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (probe < 0 || connect(probe, (const struct sockaddr *)dst, sizeof *dst) < 0 ||
        getsockname(probe, (struct sockaddr *)&src, &len) < 0)
        die("udp: no route to the destination: %s", strerror(errno));
    close(probe);
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0)
        die("udp: raw socket (needs CAP_NET_RAW): %s", strerror(errno));
    src.sin_port = 0;
    if (bind(fd, (const struct sockaddr *)&src, sizeof src) < 0) /* the checksum's source, surely */
        die("udp: bind: %s", strerror(errno));
    static struct udp_packet pkt[UDP_BATCH_MAX];
    struct iovec iov[UDP_BATCH_MAX];
    struct mmsghdr msgs[UDP_BATCH_MAX];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < batch; i++) {
        pkt[i].ip = (struct iphdr){ .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP,
                                    .tot_len = htons(sizeof pkt[i]), .saddr = src.sin_addr.s_addr,
                                    .daddr = dst->sin_addr.s_addr };
        pkt[i].udp = (struct udphdr){ .dest = dst->sin_port, .len = htons(sizeof pkt[i].udp + UDP_PAYLOAD) };
        iov[i] = (struct iovec){ .iov_base = &pkt[i].udp, .iov_len = sizeof pkt[i] - sizeof pkt[i].ip };
        msgs[i].msg_hdr = (struct msghdr){ .msg_name = (void *)dst, .msg_namelen = sizeof *dst, .msg_iov = &iov[i], .msg_iovlen = 1 };
    }
    long sent = 0, errors = 0;
    int flow = 0;
    /* Warm-up: every flow's entry exists before timing; then the measured datagrams. */
    for (int pass = 0; pass < 2 * flows; pass += batch) {
        int n = batch < 2 * flows - pass ? batch : 2 * flows - pass;
        for (int i = 0; i < n; i++, flow = (flow + 1 == flows ? 0 : flow + 1))
            udp_packet_for(&pkt[i], UDP_FIRST_PORT + flow, 'W');
        sendmmsg(fd, msgs, n, 0);
    }
    usleep(200000);
    double start = now(), end = start + seconds, t = start;
    while (t < end) {
        for (int i = 0; i < batch; i++, flow = (flow + 1 == flows ? 0 : flow + 1))
            udp_packet_for(&pkt[i], UDP_FIRST_PORT + flow, 'D');
        int n = sendmmsg(fd, msgs, batch, 0);
        if (n < 0)
            errors++;
        else
            sent += n;
        t = now();
    }
    printf("sent_per_second %.1f\nsent_packets %ld\nsend_errors %ld\n", sent / (t - start), sent, errors);
    close(fd);
    return 0;
}

/* Counts one udp run's datagrams, as a server reading them would (source addresses too). */
static int udp_recv_main(int port)
{
    int fd = bind_any(port, SOCK_DGRAM), size = 32 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size); /* up to rmem_max */
    enum { VLEN = 64 };
    static char bufs[VLEN][64];
    static struct sockaddr_in6 from[VLEN];
    static uint8_t seen[65536 / 8]; /* source ports of measured datagrams */
    struct iovec iov[VLEN];
    struct mmsghdr msgs[VLEN];
    printf("ready\n");
    long count = 0, warmup = 0, flows = 0;
    double first = 0, last = 0, last_any = 0, waited_since = now();
    int spin = sysconf(_SC_NPROCESSORS_ONLN) > 1; /* alone on a CPU it would starve the sender */
    for (;;) {
        for (int i = 0; i < VLEN; i++) {
            iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = sizeof bufs[i] };
            msgs[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i], .msg_iovlen = 1 };
        }
        int n = recvmmsg(fd, msgs, VLEN, MSG_DONTWAIT, NULL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            die("udp-recv: %s", strerror(errno));
        if (n <= 0 && count && now() - last > 0.5)
            break;
        if (n <= 0 && spin && (count || (warmup && now() - last_any < 0.5)))
            continue; /* spinning (see the top of the file); the measured datagrams follow the
                       * warm-up's within 200 ms */
        if (n <= 0) {
            struct pollfd p = { .fd = fd, .events = POLLIN };
            if (poll(&p, 1, count ? 500 : 100) == 0 && (count || now() - waited_since > 30))
                break;
            continue;
        }
        double t = now();
        last_any = t;
        for (int i = 0; i < n; i++) {
            if (msgs[i].msg_len < 1 || bufs[i][0] != 'D') {
                warmup++;
                continue;
            }
            /* sin_port and sin6_port sit at the same offset */
            uint16_t sport = ntohs(from[i].sin6_port);
            if (!(seen[sport / 8] & (1 << (sport % 8)))) {
                seen[sport / 8] |= 1 << (sport % 8);
                flows++;
            }
            if (!count++)
                first = t;
            last = t;
        }
    }
    double span = last - first;
    printf("received_per_second %.1f\nreceived_packets %ld\nflows %ld\nwarmup_packets %ld\n",
           span > 0 ? count / span : 0.0, count, flows, warmup);
    return count == 0;
}

/* ------------------------------------------------------------------------- main */

/* Splits the options out of the arguments, then dispatches on the mode. */
int main(int argc, char **argv)
{
    char *pos[argc];
    int npos = 0, threads = 0, flows = 0, batch = 32, cpu = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            usage(NULL);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = (int)parse_num(argv[++i], 1, 1024, "thread count");
        else if (!strcmp(argv[i], "--flows") && i + 1 < argc)
            flows = (int)parse_num(argv[++i], 1, 65535 - UDP_FIRST_PORT, "flow count");
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = (int)parse_num(argv[++i], 1, UDP_BATCH_MAX, "batch");
        else if (!strcmp(argv[i], "--cpu") && i + 1 < argc)
            cpu = (int)parse_num(argv[++i], 0, CPU_SETSIZE - 1, "CPU");
        else if (!strncmp(argv[i], "--", 2))
            usage("unknown option or missing value");
        else
            pos[npos++] = argv[i];
    }
    if (npos < 1)
        usage(NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int udp = !strcmp(pos[0], "udp"), udp_recv = !strcmp(pos[0], "udp-recv");
    if (((flows || batch != 32) && !udp) || (cpu >= 0 && !udp && !udp_recv))
        usage("--flows and --batch are for udp, --cpu for udp and udp-recv");
    if (cpu >= 0)
        pin_to(cpu);
    if (udp_recv && npos == 2)
        return udp_recv_main((int)parse_num(pos[1], 1, 65535, "port"));
    if (!strcmp(pos[0], "serve") && npos >= 2) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        return serve_main(npos - 1, pos + 1, threads ? threads : (cpus > 0 ? (int)cpus : 1));
    }
    if ((udp || !strcmp(pos[0], "rr") || !strcmp(pos[0], "crr")) && npos == 4) {
        parse_num(pos[2], 1, 65535, "port");
        double seconds = (double)parse_num(pos[3], 1, 86400, "duration in seconds");
        struct target to = resolve(pos[1], pos[2]);
        if (udp) {
            if (!flows || threads)
                usage("udp needs --flows N and runs on one thread");
            return udp_main(&to, seconds, flows, batch);
        }
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
