// C shim over rtnetlink (libnl-route-3), network namespaces and container processes.
// Every function returns 0 (or a positive value where documented) on success and -errno
// on failure, so Swift can turn the result into a typed error with strerror().
#pragma once
#include <stdint.h>
#include <sys/types.h>

// ---- rtnetlink ----------------------------------------------------------------------

// A netlink route socket bound to one network namespace.
typedef struct bp_nl bp_nl;

// Opens a socket in the namespace mounted at netns_path, or the caller's when NULL.
int bp_nl_open(const char *netns_path, bp_nl **out);
void bp_nl_close(bp_nl *nl);

// ifindex (> 0) of the link called name, or -ENODEV.
int bp_link_index(bp_nl *nl, const char *name);
// The name of the link with that ifindex into name (IFNAMSIZ bytes), or -ENODEV.
int bp_link_name(bp_nl *nl, int ifindex, char name[16]);
// A bridge device, down, with an ifalias that marks it as ours.
int bp_bridge_add(bp_nl *nl, const char *name, const char *alias);
// A veth pair: host_name stays in nl's namespace (ifalias = alias); peer_name is created
// directly inside the namespace open at peer_netns_fd, with MAC peer_mac.
// mtu 0 keeps the default.
int bp_veth_add(bp_nl *nl, const char *host_name, const char *alias,
                const char *peer_name, int peer_netns_fd, const uint8_t peer_mac[6], unsigned mtu);
// A macvlan device of parent (in nl's namespace), created directly in the namespace open
// at netns_fd as name, with mac, mode ("bridge", "private", "vepa", "passthru") and the
// given ifindex. -ENODEV when parent is missing.
int bp_macvlan_add(bp_nl *nl, const char *parent, const char *name, int netns_fd,
                   const uint8_t mac[6], const char *mode, int ifindex);
// An 802.1Q sub-interface name of base with vlan_id; a dummy device (macvlan networks
// without a parent). Both carry the alias that marks them as ours.
int bp_vlan_add(bp_nl *nl, const char *base, const char *name, int vlan_id, const char *alias);
int bp_dummy_add(bp_nl *nl, const char *name, const char *alias);
// A VXLAN device with id vni, source address local (network order), UDP port (host
// order), no learning and ARP proxy on; mtu 0 keeps the default.
int bp_vxlan_add(bp_nl *nl, const char *name, const char *alias, uint32_t vni, uint32_t local,
                 uint16_t port, unsigned mtu);
// Permanent neighbour (ip -> mac) and forwarding (mac -> remote VTEP vtep) entries on a
// VXLAN device; addresses in network order.
int bp_neigh_replace(bp_nl *nl, const char *dev, uint32_t ip, const uint8_t mac[6]);
int bp_neigh_del(bp_nl *nl, const char *dev, uint32_t ip, const uint8_t mac[6]);
// The same for an IPv6 address (16 bytes): answered by the VXLAN device's NDP proxy.
int bp_neigh6_replace(bp_nl *nl, const char *dev, const uint8_t ip[16], const uint8_t mac[6]);
int bp_neigh6_del(bp_nl *nl, const char *dev, const uint8_t ip[16], const uint8_t mac[6]);
int bp_fdb_replace(bp_nl *nl, const char *dev, const uint8_t mac[6], uint32_t vtep);
int bp_fdb_del(bp_nl *nl, const char *dev, const uint8_t mac[6], uint32_t vtep);
int bp_link_set_master(bp_nl *nl, const char *name, const char *master);
// Sets the link's MAC (a bridge then keeps it instead of taking its lowest port's).
int bp_link_set_mac(bp_nl *nl, const char *name, const uint8_t mac[6]);
int bp_link_set_up(bp_nl *nl, const char *name);
// Sets the link's MTU (a bridge then keeps it whatever its ports' MTUs).
int bp_link_set_mtu(bp_nl *nl, const char *name, unsigned mtu);
// Deleting a missing link returns -ENODEV.
int bp_link_del(bp_nl *nl, const char *name);

// IPv4 addresses are in network byte order.
// Adds addr/prefix to dev; an address that is already there is success.
int bp_addr_add(bp_nl *nl, const char *dev, uint32_t addr, int prefix);
// Replaces the default route with one via gateway on dev.
int bp_route_replace_default(bp_nl *nl, uint32_t gateway, const char *dev);
// Removes the default route if there is one (no route is success).
int bp_route_del_default(bp_nl *nl);
// IPv6: an address without duplicate address detection (usable at once, as Docker adds
// them), and the default route via a gateway (replaced) or none (all deleted).
int bp_addr6_add(bp_nl *nl, const char *dev, const uint8_t addr[16], int prefix);
int bp_route6_replace_default(bp_nl *nl, const uint8_t gateway[16], const char *dev);
int bp_route6_del_default(bp_nl *nl);

// A link as enumeration and events report it; its strings (NULL when absent) are valid
// only during the callback.
struct bp_link {
    const char *name;
    const char *kind;      // "bridge", "veth"...; NULL for plain devices (and in events)
    const char *alias;
    int ifindex;
    int master_ifindex;    // 0 when none
    unsigned short type;   // ARPHRD_*: what headers its packets have
    unsigned char up;      // IFF_UP
};

// Enumeration. Callbacks get plain values that are valid only during the call.
typedef void (*bp_link_cb)(void *ctx, const struct bp_link *link);
int bp_link_list(bp_nl *nl, bp_link_cb cb, void *ctx);
// Every IPv4 address (with its prefix) and every IPv4 route destination of the namespace
// (all tables), used to pick subnets that overlap nothing the host uses.
typedef void (*bp_prefix_cb)(void *ctx, uint32_t addr, int prefix);
int bp_addr_list(bp_nl *nl, bp_prefix_cb cb, void *ctx);
int bp_route_list(bp_nl *nl, bp_prefix_cb cb, void *ctx);
// The MTU (> 0) of the link that holds the IPv4 address addr (network order), or
// -EADDRNOTAVAIL when no link does.
int bp_addr_link_mtu(bp_nl *nl, uint32_t addr);
// The permanent IPv4 neighbour entries of dev (as /32 prefixes).
int bp_neigh_list_permanent(bp_nl *nl, const char *dev, bp_prefix_cb cb, void *ctx);
// The permanent IPv6 neighbour entries of dev (16 bytes each, valid during the call).
typedef void (*bp_addr6_cb)(void *ctx, const uint8_t addr[16]);
int bp_neigh6_list_permanent(bp_nl *nl, const char *dev, bp_addr6_cb cb, void *ctx);

// ---- namespaces ---------------------------------------------------------------------

// Creates a new network namespace and bind-mounts it at path (the file is created;
// parent directories must exist). Its lo is brought up.
int bp_netns_create(const char *path);
// Unmounts (MNT_DETACH) and unlinks path. A missing path is success.
int bp_netns_delete(const char *path);
// 1 when path is a mounted network namespace (nsfs), 0 when not.
int bp_netns_is_mounted(const char *path);
// Moves the calling thread into the network namespace at path; *home gets an fd of the
// thread's namespace before, for bp_netns_leave, which returns there (and closes it).
int bp_netns_enter(const char *path, int *home);
void bp_netns_leave(int home);
// Moves the calling process into the network namespace /run/netns/<name> (or a path when
// name contains '/') and re-executes /proc/self/exe with the same argv, so that every
// thread of the new image lives there. Sets BRIDGEPORT_NETNS_ENTERED=1 to avoid a loop.
// Only returns on failure.
int bp_reexec_in_netns(const char *name, char *const argv[]);

// ---- container processes ------------------------------------------------------------

// What a container may do (Docker's defaults unless privileged): the capabilities it
// keeps (bit N: capability N), no_new_privs, and /proc and /sys paths masked or read-only.
struct bp_confinement {
    int privileged;           // 1: every capability, nothing masked, no no_new_privs
    uint64_t capabilities;    // kept in the bounding, permitted, effective and inheritable sets
    // NULL-terminated: the agent's own paths (API socket, state, BPF pins), hidden from
    // every container, privileged or not: containers share the host's filesystem.
    const char *const *hidden_paths;
};

struct bp_spawn_opts {
    const char *netns_path;   // join this network namespace; NULL keeps the caller's
    int new_uts;              // 1: own UTS namespace with hostname
    const char *hostname;
    const char *domainname;   // its NIS domain name (with new_uts), or NULL
    const char *hosts_file;   // bind-mounted on /etc/hosts when not NULL
    const char *resolv_file;  // bind-mounted on /etc/resolv.conf when not NULL
    const char *hostname_file;// bind-mounted on /etc/hostname when not NULL
    const char *log_file;     // stdout and stderr (appended); stdin is /dev/null
    pid_t attach_pid;         // > 0: stdout and stderr are this process's own (run -i/-t) ...
    int attach_stdin;         // ... and with 1, its stdin too
    const char *exit_file;    // the shim writes the exit code here ("%d\n"; 128+sig when killed)
    char *const *argv;        // NULL-terminated; argv[0] searched in PATH
    struct bp_confinement confinement;
};

// Starts argv in its own mount (and UTS) namespace under a small supervisor ("shim")
// that is detached from the caller (double fork, setsid, all other fds closed), so the
// container outlives the agent. The shim waits for the container and records its exit
// code in exit_file. On success *pid is the container's PID.
// Errors: -ENOENT when argv[0] is not found, -EACCES when it cannot be executed, other
// -errno from the namespace or mount steps.
int bp_spawn(const struct bp_spawn_opts *opts, pid_t *pid);

// Runs argv inside the net, UTS and mount namespaces of pid (like nsenter), with the
// caller's stdio, and waits. Returns the exit code (0-255; 128+sig when killed;
// 127 when argv[0] is not found, 126 when it cannot be executed), or -errno when the
// namespaces cannot be entered. SIGINT/SIGQUIT are ignored by the caller meanwhile.
int bp_exec_in(pid_t pid, char *const argv[], struct bp_confinement confinement);

// The start time of pid in clock ticks since boot (field 22 of /proc/PID/stat), to
// tell a live container from a reused PID. -ESRCH when there is no such process.
int bp_process_start_time(pid_t pid, unsigned long long *ticks);

// A pidfd of pid (close-on-exec), readable once the process has exited; or -errno.
int bp_pidfd_open(pid_t pid);

// Link and IPv4 address changes in the calling thread's network namespace: a netlink
// socket (or -errno) from which bp_link_events_read reports each removed link
// (RTM_DELLINK: BP_LINK_REMOVED), each new or changed one (RTM_NEWLINK: BP_LINK_CHANGED)
// and each added or deleted address (RTM_NEWADDR, RTM_DELADDR: BP_ADDRESS_CHANGED, with
// the link's index alone) to cb. The read waits up to timeout_ms for messages; it
// returns 0, BP_LINK_EVENTS_LOST when the kernel dropped some (a full socket buffer), or
// -errno once the socket is unusable.
enum bp_link_event { BP_LINK_REMOVED = 1, BP_ADDRESS_CHANGED = 2, BP_LINK_CHANGED = 3 };
enum { BP_LINK_EVENTS_LOST = 1 };
typedef void (*bp_link_event_cb)(int event, const struct bp_link *link, void *ctx);
int bp_link_events_open(void);
int bp_link_events_read(int fd, int timeout_ms, bp_link_event_cb cb, void *ctx);

// The cookie of the network namespace mounted at path (the caller's when NULL), as
// bpf_get_netns_cookie() sees it in BPF programs (SO_NETNS_COOKIE, Linux 5.14+).
int bp_netns_cookie(const char *path, uint64_t *cookie);

// ---- sockets ------------------------------------------------------------------------

// Attaches a classic socket filter that accepts nothing, so that a socket held only to
// reserve its port never queues what arrives. 0 or -errno.
int bp_socket_accept_nothing(int fd);
