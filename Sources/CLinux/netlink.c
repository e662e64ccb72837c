// rtnetlink through libnl-route-3: links, addresses, routes.
//
// libnl folds kernel errors into its own NLE_* codes, which lose detail (EADDRINUSE and
// EEXIST both become NLE_EXIST, ENOTSUP becomes NLE_FAILURE). A custom error callback on
// the socket records the kernel's errno so that callers get the real -errno.
#define _GNU_SOURCE
#include "clinux.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/errno.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/link/vlan.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <linux/neighbour.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>

struct bp_nl {
    struct nl_sock *sk;
    int kernel_errno;   // last errno reported by the kernel (negative), 0 if none
};

static int on_kernel_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg) {
    (void)who;
    ((bp_nl *)arg)->kernel_errno = e->error;
    return NL_STOP;   // libnl then returns its own code; we prefer kernel_errno
}

// Best-effort NLE_* -> errno for errors that did not come from the kernel.
static int nle_to_errno(int nle) {
    switch (abs(nle)) {
    case NLE_SUCCESS: return 0;
    case NLE_INTR: return EINTR;
    case NLE_BAD_SOCK: return EBADF;
    case NLE_AGAIN: return EAGAIN;
    case NLE_NOMEM: return ENOMEM;
    case NLE_EXIST: return EEXIST;
    case NLE_INVAL: return EINVAL;
    case NLE_RANGE: return ERANGE;
    case NLE_MSGSIZE: return EMSGSIZE;
    case NLE_OPNOTSUPP: return EOPNOTSUPP;
    case NLE_AF_NOSUPPORT: return EAFNOSUPPORT;
    case NLE_OBJ_NOTFOUND: return ENOENT;
    case NLE_NOATTR: case NLE_MISSING_ATTR: return EINVAL;
    case NLE_NOACCESS: return EACCES;
    case NLE_PERM: return EPERM;
    case NLE_PKTLOC_FILE: return ENOENT;
    case NLE_PARSE_ERR: case NLE_MSG_TRUNC: case NLE_MSG_TOOSHORT: return EBADMSG;
    case NLE_SEQ_MISMATCH: case NLE_MSG_OVERFLOW: case NLE_MSGTYPE_NOSUPPORT: return EPROTO;
    case NLE_OBJ_MISMATCH: return EINVAL;
    case NLE_NOCACHE: return ENOENT;
    case NLE_BUSY: return EBUSY;
    case NLE_PROTO_MISMATCH: return EPROTONOSUPPORT;
    case NLE_NOADDR: return EADDRNOTAVAIL;
    case NLE_NODEV: return ENODEV;
    case NLE_IMMUTABLE: return EPERM;
    default: return EIO;
    }
}

// Converts a libnl return value into 0 / -errno, preferring the kernel's errno.
static int result(bp_nl *nl, int rc) {
    if (rc >= 0) return 0;
    if (nl->kernel_errno < 0) return nl->kernel_errno;
    return -nle_to_errno(rc);
}

int bp_nl_open(const char *netns_path, bp_nl **out) {
    int target = -1, home = -1, rc = 0;
    *out = NULL;
    if (netns_path) {
        // Only this thread switches, and only while the socket is created: the socket
        // stays bound to the namespace it was created in.
        if ((target = open(netns_path, O_RDONLY | O_CLOEXEC)) < 0) return -errno;
        if ((home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
            rc = -errno;
            close(target);
            return rc;
        }
        if (setns(target, CLONE_NEWNET) < 0) {
            rc = -errno;
            close(target);
            close(home);
            return rc;
        }
    }

    bp_nl *nl = calloc(1, sizeof *nl);
    if (!nl || !(nl->sk = nl_socket_alloc())) {
        rc = -ENOMEM;
    } else {
        nl_socket_modify_err_cb(nl->sk, NL_CB_CUSTOM, on_kernel_error, nl);
        int err = nl_connect(nl->sk, NETLINK_ROUTE);
        if (err < 0) rc = -nle_to_errno(err);
    }

    if (netns_path) {
        if (setns(home, CLONE_NEWNET) < 0) {
            // The thread would keep running in the wrong namespace: never continue.
            perror("bridgeport: cannot return to the original network namespace");
            abort();
        }
        close(target);
        close(home);
    }
    if (rc < 0) {
        bp_nl_close(nl);
        return rc;
    }
    *out = nl;
    return 0;
}

void bp_nl_close(bp_nl *nl) {
    if (!nl) return;
    if (nl->sk) nl_socket_free(nl->sk);   // also closes the fd
    free(nl);
}

// ---- links ----------------------------------------------------------------------------

// Fetches the link called name from the kernel (caller puts it).
static int get_link(bp_nl *nl, const char *name, struct rtnl_link **link) {
    nl->kernel_errno = 0;
    return result(nl, rtnl_link_get_kernel(nl->sk, 0, name, link));
}

int bp_link_index(bp_nl *nl, const char *name) {
    struct rtnl_link *link;
    int rc = get_link(nl, name, &link);
    if (rc < 0) return rc;
    rc = rtnl_link_get_ifindex(link);
    rtnl_link_put(link);
    return rc;
}

int bp_link_name(bp_nl *nl, int ifindex, char name[16]) {
    struct rtnl_link *link;
    nl->kernel_errno = 0;
    int rc = result(nl, rtnl_link_get_kernel(nl->sk, ifindex, NULL, &link));
    if (rc < 0) return rc;
    snprintf(name, 16, "%s", rtnl_link_get_name(link));
    rtnl_link_put(link);
    return 0;
}

// Applies changes (consumed) to the existing link called name.
static int change_link(bp_nl *nl, const char *name, struct rtnl_link *changes) {
    struct rtnl_link *link;
    if (!changes) return -ENOMEM;
    int rc = get_link(nl, name, &link);
    if (rc == 0) {
        nl->kernel_errno = 0;
        rc = result(nl, rtnl_link_change(nl->sk, link, changes, 0));
        rtnl_link_put(link);
    }
    rtnl_link_put(changes);
    return rc;
}

// The kernel ignores IFLA_IFALIAS on creation, so the alias is set by a second request.
static int set_alias(bp_nl *nl, const char *name, const char *alias) {
    struct rtnl_link *changes = rtnl_link_alloc();
    if (changes) rtnl_link_set_ifalias(changes, alias);
    return change_link(nl, name, changes);
}

// Creates link (exclusively) and then sets the alias of name; on failure the link is removed.
static int add_link(bp_nl *nl, struct rtnl_link *link, const char *name, const char *alias) {
    nl->kernel_errno = 0;
    int rc = result(nl, rtnl_link_add(nl->sk, link, NLM_F_CREATE | NLM_F_EXCL));
    if (rc < 0 || !alias) return rc;
    if ((rc = set_alias(nl, name, alias)) < 0) bp_link_del(nl, name);
    return rc;
}

int bp_bridge_add(bp_nl *nl, const char *name, const char *alias) {
    struct rtnl_link *link = rtnl_link_bridge_alloc();
    if (!link) return -ENOMEM;
    rtnl_link_set_name(link, name);
    int rc = add_link(nl, link, name, alias);
    rtnl_link_put(link);
    return rc;
}

int bp_veth_add(bp_nl *nl, const char *host_name, const char *alias,
                const char *peer_name, int peer_netns_fd, const uint8_t peer_mac[6], unsigned mtu) {
    struct rtnl_link *link = rtnl_link_veth_alloc();
    if (!link) return -ENOMEM;
    rtnl_link_set_name(link, host_name);
    if (mtu) rtnl_link_set_mtu(link, mtu);

    struct rtnl_link *peer = rtnl_link_veth_get_peer(link);   // takes a reference
    rtnl_link_set_name(peer, peer_name);
    rtnl_link_set_ns_fd(peer, peer_netns_fd);   // created directly in the container's netns
    if (mtu) rtnl_link_set_mtu(peer, mtu);
    struct nl_addr *mac = NULL;
    if (peer_mac) {
        if (!(mac = nl_addr_build(AF_LLC, peer_mac, 6))) {
            rtnl_link_put(peer);
            rtnl_link_put(link);
            return -ENOMEM;
        }
        rtnl_link_set_addr(peer, mac);
    }

    int rc = add_link(nl, link, host_name, alias);
    if (mac) nl_addr_put(mac);
    rtnl_link_put(peer);
    rtnl_link_put(link);
    return rc;
}

// Sets the MAC of a link object, or returns -ENOMEM.
static int set_mac(struct rtnl_link *link, const uint8_t mac[6]) {
    struct nl_addr *addr = nl_addr_build(AF_LLC, mac, 6);
    if (!addr) return -ENOMEM;
    rtnl_link_set_addr(link, addr);
    nl_addr_put(addr);
    return 0;
}

int bp_macvlan_add(bp_nl *nl, const char *parent, const char *name, int netns_fd,
                   const uint8_t mac[6], const char *mode, int ifindex) {
    int parent_index = bp_link_index(nl, parent);
    if (parent_index < 0) return parent_index;
    int mode_value = rtnl_link_macvlan_str2mode(mode);
    if (mode_value < 0) return -EINVAL;
    struct rtnl_link *link = rtnl_link_macvlan_alloc();
    if (!link) return -ENOMEM;
    rtnl_link_set_name(link, name);
    rtnl_link_set_link(link, parent_index);
    rtnl_link_macvlan_set_mode(link, mode_value);
    rtnl_link_set_ns_fd(link, netns_fd);
    // The ifindex is chosen so that it is unique among every namespace the agent
    // manages: the endpoint programs key their counters by it.
    rtnl_link_set_ifindex(link, ifindex);
    int rc = set_mac(link, mac);
    if (rc == 0) {
        nl->kernel_errno = 0;
        rc = result(nl, rtnl_link_add(nl->sk, link, NLM_F_CREATE | NLM_F_EXCL));
    }
    rtnl_link_put(link);
    return rc;
}

int bp_vlan_add(bp_nl *nl, const char *base, const char *name, int vlan_id, const char *alias) {
    int base_index = bp_link_index(nl, base);
    if (base_index < 0) return base_index;
    struct rtnl_link *link = rtnl_link_vlan_alloc();
    if (!link) return -ENOMEM;
    rtnl_link_set_name(link, name);
    rtnl_link_set_link(link, base_index);
    rtnl_link_vlan_set_id(link, vlan_id);
    int rc = add_link(nl, link, name, alias);
    rtnl_link_put(link);
    return rc;
}

int bp_dummy_add(bp_nl *nl, const char *name, const char *alias) {
    struct rtnl_link *link = rtnl_link_alloc();
    if (!link) return -ENOMEM;
    rtnl_link_set_name(link, name);
    int rc = rtnl_link_set_type(link, "dummy") < 0 ? -ENOMEM : add_link(nl, link, name, alias);
    rtnl_link_put(link);
    return rc;
}

int bp_vxlan_add(bp_nl *nl, const char *name, const char *alias, uint32_t vni, uint32_t local,
                 uint16_t port, unsigned mtu) {
    struct rtnl_link *link = rtnl_link_vxlan_alloc();
    if (!link) return -ENOMEM;
    struct nl_addr *source = nl_addr_build(AF_INET, &local, 4);
    if (!source) {
        rtnl_link_put(link);
        return -ENOMEM;
    }
    rtnl_link_set_name(link, name);
    rtnl_link_vxlan_set_id(link, vni);
    rtnl_link_vxlan_set_local(link, source);
    rtnl_link_vxlan_set_port(link, port);
    // Forwarding and neighbour entries come from the cluster store: no learning, and
    // ARP requests for known containers are answered on this host (no flooding).
    rtnl_link_vxlan_set_learning(link, 0);
    rtnl_link_vxlan_set_proxy(link, 1);
    if (mtu) rtnl_link_set_mtu(link, mtu);
    int rc = add_link(nl, link, name, alias);
    nl_addr_put(source);
    rtnl_link_put(link);
    return rc;
}

// A neighbour entry on dev: family AF_INET or AF_INET6 (IP -> MAC, ip of 4 or 16 bytes)
// or AF_BRIDGE (MAC -> remote VTEP, an IPv4 address).
static int neigh_change(bp_nl *nl, const char *dev, int family, const void *ip, const uint8_t mac[6], int add) {
    int index = bp_link_index(nl, dev);
    if (index < 0) return index;
    struct rtnl_neigh *neigh = rtnl_neigh_alloc();
    struct nl_addr *dst = family == AF_INET6 ? nl_addr_build(AF_INET6, ip, 16) : nl_addr_build(AF_INET, ip, 4);
    struct nl_addr *lladdr = nl_addr_build(AF_LLC, mac, 6);
    int rc = -ENOMEM;
    if (neigh && dst && lladdr) {
        rtnl_neigh_set_ifindex(neigh, index);
        // The destination first: libnl refuses an AF_INET one once the family is AF_BRIDGE.
        rtnl_neigh_set_dst(neigh, dst);
        rtnl_neigh_set_family(neigh, family);
        rtnl_neigh_set_lladdr(neigh, lladdr);
        rtnl_neigh_set_state(neigh, NUD_PERMANENT);
        if (family == AF_BRIDGE) rtnl_neigh_set_flags(neigh, NTF_SELF);
        nl->kernel_errno = 0;
        rc = result(nl, add ? rtnl_neigh_add(nl->sk, neigh, NLM_F_CREATE | NLM_F_REPLACE)
                            : rtnl_neigh_delete(nl->sk, neigh, 0));
    }
    if (lladdr) nl_addr_put(lladdr);
    if (dst) nl_addr_put(dst);
    if (neigh) rtnl_neigh_put(neigh);
    return rc;
}

int bp_neigh_replace(bp_nl *nl, const char *dev, uint32_t ip, const uint8_t mac[6]) {
    return neigh_change(nl, dev, AF_INET, &ip, mac, 1);
}

int bp_neigh_del(bp_nl *nl, const char *dev, uint32_t ip, const uint8_t mac[6]) {
    return neigh_change(nl, dev, AF_INET, &ip, mac, 0);
}

int bp_neigh6_replace(bp_nl *nl, const char *dev, const uint8_t ip[16], const uint8_t mac[6]) {
    return neigh_change(nl, dev, AF_INET6, ip, mac, 1);
}

int bp_neigh6_del(bp_nl *nl, const char *dev, const uint8_t ip[16], const uint8_t mac[6]) {
    return neigh_change(nl, dev, AF_INET6, ip, mac, 0);
}

int bp_fdb_replace(bp_nl *nl, const char *dev, const uint8_t mac[6], uint32_t vtep) {
    return neigh_change(nl, dev, AF_BRIDGE, &vtep, mac, 1);
}

int bp_fdb_del(bp_nl *nl, const char *dev, const uint8_t mac[6], uint32_t vtep) {
    return neigh_change(nl, dev, AF_BRIDGE, &vtep, mac, 0);
}

int bp_link_set_mac(bp_nl *nl, const char *name, const uint8_t mac[6]) {
    struct rtnl_link *changes = rtnl_link_alloc();
    if (changes && set_mac(changes, mac) < 0) {
        rtnl_link_put(changes);
        return -ENOMEM;
    }
    return change_link(nl, name, changes);
}

int bp_link_set_master(bp_nl *nl, const char *name, const char *master) {
    int index = bp_link_index(nl, master);
    if (index < 0) return index;
    struct rtnl_link *changes = rtnl_link_alloc();
    if (changes) rtnl_link_set_master(changes, index);
    return change_link(nl, name, changes);
}

int bp_link_set_mtu(bp_nl *nl, const char *name, unsigned mtu) {
    struct rtnl_link *changes = rtnl_link_alloc();
    if (changes) rtnl_link_set_mtu(changes, mtu);
    return change_link(nl, name, changes);
}

int bp_link_set_up(bp_nl *nl, const char *name) {
    struct rtnl_link *changes = rtnl_link_alloc();
    if (changes) rtnl_link_set_flags(changes, IFF_UP);
    return change_link(nl, name, changes);
}

int bp_link_del(bp_nl *nl, const char *name) {
    struct rtnl_link *link = rtnl_link_alloc();
    if (!link) return -ENOMEM;
    rtnl_link_set_name(link, name);
    nl->kernel_errno = 0;
    int rc = result(nl, rtnl_link_delete(nl->sk, link));
    rtnl_link_put(link);
    return rc;
}

// ---- addresses and routes -------------------------------------------------------------

static struct nl_addr *inet_addr(uint32_t addr, int prefix) {
    struct nl_addr *a = nl_addr_build(AF_INET, &addr, 4);
    if (a) nl_addr_set_prefixlen(a, prefix);
    return a;
}

// Network-order IPv4 value of a (0 when it is not a 4-byte address, e.g. 0.0.0.0/0).
static uint32_t inet_value(struct nl_addr *a) {
    uint32_t v = 0;
    if (a && nl_addr_get_len(a) == 4) memcpy(&v, nl_addr_get_binary_addr(a), 4);
    return v;
}

// Adds local (an address of either family, which it consumes) to dev, with IFA_F_* flags;
// an address that is already there is success.
static int addr_add(bp_nl *nl, const char *dev, struct nl_addr *local, int flags) {
    int index = bp_link_index(nl, dev);
    struct rtnl_addr *a = index < 0 ? NULL : rtnl_addr_alloc();
    int rc = index < 0 ? index : -ENOMEM;
    if (a && local) {
        rtnl_addr_set_ifindex(a, index);
        rtnl_addr_set_family(a, nl_addr_get_family(local));
        rtnl_addr_set_local(a, local);
        if (flags) rtnl_addr_set_flags(a, flags);
        nl->kernel_errno = 0;
        rc = result(nl, rtnl_addr_add(nl->sk, a, 0));
        if (rc == -EEXIST) rc = 0;
    }
    if (local) nl_addr_put(local);
    if (a) rtnl_addr_put(a);
    return rc;
}

int bp_addr_add(bp_nl *nl, const char *dev, uint32_t addr, int prefix) {
    return addr_add(nl, dev, inet_addr(addr, prefix), 0);
}

// A main-table route to the family's default, any/0 (caller puts it; consumes any).
static struct rtnl_route *default_route(struct nl_addr *any) {
    struct rtnl_route *r = any ? rtnl_route_alloc() : NULL;
    if (!r) {
        if (any) nl_addr_put(any);
        return NULL;
    }
    rtnl_route_set_family(r, nl_addr_get_family(any));
    rtnl_route_set_table(r, RT_TABLE_MAIN);
    rtnl_route_set_dst(r, any);
    nl_addr_put(any);
    return r;
}

// Replaces the default route of gw's family with one via gw on dev (consumes any and gw).
static int route_replace_default(bp_nl *nl, struct nl_addr *any, struct nl_addr *gw, const char *dev) {
    int index = bp_link_index(nl, dev);
    struct rtnl_route *r = default_route(any);
    struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
    int rc = index < 0 ? index : -ENOMEM;
    if (index >= 0 && r && nh && gw) {
        rtnl_route_set_protocol(r, RTPROT_BOOT);
        rtnl_route_set_scope(r, RT_SCOPE_UNIVERSE);
        rtnl_route_nh_set_ifindex(nh, index);
        rtnl_route_nh_set_gateway(nh, gw);
        rtnl_route_add_nexthop(r, nh);   // the route owns nh from here on
        nh = NULL;
        nl->kernel_errno = 0;
        rc = result(nl, rtnl_route_add(nl->sk, r, NLM_F_REPLACE));
    }
    if (gw) nl_addr_put(gw);
    if (nh) rtnl_route_nh_free(nh);
    if (r) rtnl_route_put(r);
    return rc;
}

// Deletes the default routes of any's family (consumes any); none is success.
static int route_del_default(bp_nl *nl, struct nl_addr *any) {
    struct rtnl_route *r = default_route(any);
    if (!r) return -ENOMEM;
    rtnl_route_set_scope(r, RT_SCOPE_NOWHERE);   // matches any scope
    int rc = 0;
    // There may be several (different metrics); delete until the kernel finds none.
    for (int i = 0; i < 64 && rc == 0; i++) {
        nl->kernel_errno = 0;
        rc = result(nl, rtnl_route_delete(nl->sk, r, 0));
    }
    rtnl_route_put(r);
    return rc == -ESRCH || rc == -ENOENT ? 0 : rc;
}

int bp_route_replace_default(bp_nl *nl, uint32_t gateway, const char *dev) {
    return route_replace_default(nl, inet_addr(0, 0), inet_addr(gateway, 32), dev);
}

int bp_route_del_default(bp_nl *nl) { return route_del_default(nl, inet_addr(0, 0)); }

// ---- IPv6 -----------------------------------------------------------------------------

static const uint8_t inet6_any[16];

static struct nl_addr *inet6_addr(const uint8_t addr[16], int prefix) {
    struct nl_addr *a = nl_addr_build(AF_INET6, addr, 16);
    if (a) nl_addr_set_prefixlen(a, prefix);
    return a;
}

int bp_addr6_add(bp_nl *nl, const char *dev, const uint8_t addr[16], int prefix) {
    return addr_add(nl, dev, inet6_addr(addr, prefix), IFA_F_NODAD);
}

int bp_route6_replace_default(bp_nl *nl, const uint8_t gateway[16], const char *dev) {
    return route_replace_default(nl, inet6_addr(inet6_any, 0), inet6_addr(gateway, 128), dev);
}

int bp_route6_del_default(bp_nl *nl) { return route_del_default(nl, inet6_addr(inet6_any, 0)); }

// ---- enumeration ----------------------------------------------------------------------

int bp_link_list(bp_nl *nl, bp_link_cb cb, void *ctx) {
    struct nl_cache *cache;
    nl->kernel_errno = 0;
    int rc = result(nl, rtnl_link_alloc_cache(nl->sk, AF_UNSPEC, &cache));
    if (rc < 0) return rc;
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_link *l = (struct rtnl_link *)o;
        struct bp_link link = {
            .name = rtnl_link_get_name(l), .kind = rtnl_link_get_type(l), .alias = rtnl_link_get_ifalias(l),
            .ifindex = rtnl_link_get_ifindex(l), .master_ifindex = rtnl_link_get_master(l),
            .type = (unsigned short)rtnl_link_get_arptype(l), .up = (rtnl_link_get_flags(l) & IFF_UP) != 0,
        };
        cb(ctx, &link);
    }
    nl_cache_free(cache);
    return 0;
}

int bp_addr_list(bp_nl *nl, bp_prefix_cb cb, void *ctx) {
    struct nl_cache *cache;
    nl->kernel_errno = 0;
    int rc = result(nl, rtnl_addr_alloc_cache(nl->sk, &cache));
    if (rc < 0) return rc;
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_addr *a = (struct rtnl_addr *)o;
        if (rtnl_addr_get_family(a) != AF_INET) continue;
        cb(ctx, inet_value(rtnl_addr_get_local(a)), rtnl_addr_get_prefixlen(a));
    }
    nl_cache_free(cache);
    return 0;
}

int bp_addr_link_mtu(bp_nl *nl, uint32_t addr) {
    struct nl_cache *cache;
    nl->kernel_errno = 0;
    int rc = result(nl, rtnl_addr_alloc_cache(nl->sk, &cache));
    if (rc < 0) return rc;
    int ifindex = 0;
    for (struct nl_object *o = nl_cache_get_first(cache); o && !ifindex; o = nl_cache_get_next(o)) {
        struct rtnl_addr *a = (struct rtnl_addr *)o;
        if (rtnl_addr_get_family(a) == AF_INET && inet_value(rtnl_addr_get_local(a)) == addr)
            ifindex = rtnl_addr_get_ifindex(a);
    }
    nl_cache_free(cache);
    if (!ifindex) return -EADDRNOTAVAIL;
    struct rtnl_link *link;
    nl->kernel_errno = 0;
    if ((rc = result(nl, rtnl_link_get_kernel(nl->sk, ifindex, NULL, &link))) < 0) return rc;
    rc = (int)rtnl_link_get_mtu(link);
    rtnl_link_put(link);
    return rc;
}

int bp_route_list(bp_nl *nl, bp_prefix_cb cb, void *ctx) {
    struct nl_cache *cache;
    nl->kernel_errno = 0;
    // An AF_INET dump covers every table (main, local, policy-routing tables).
    int rc = result(nl, rtnl_route_alloc_cache(nl->sk, AF_INET, 0, &cache));
    if (rc < 0) return rc;
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_route *r = (struct rtnl_route *)o;
        struct nl_addr *dst = rtnl_route_get_dst(r);
        cb(ctx, inet_value(dst), dst ? (int)nl_addr_get_prefixlen(dst) : 0);
    }
    nl_cache_free(cache);
    return 0;
}

// The permanent neighbour entries of family on dev: IPv4 ones to cb4 (as /32 prefixes),
// IPv6 ones to cb6.
static int neigh_list_permanent(bp_nl *nl, const char *dev, int family, bp_prefix_cb cb4, bp_addr6_cb cb6,
                                void *ctx) {
    int index = bp_link_index(nl, dev);
    if (index < 0) return index;
    struct nl_cache *cache;
    nl->kernel_errno = 0;
    int rc = result(nl, rtnl_neigh_alloc_cache(nl->sk, &cache));
    if (rc < 0) return rc;
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_neigh *n = (struct rtnl_neigh *)o;
        struct nl_addr *dst = rtnl_neigh_get_dst(n);
        if (rtnl_neigh_get_ifindex(n) != index || rtnl_neigh_get_family(n) != family ||
            !(rtnl_neigh_get_state(n) & NUD_PERMANENT)) continue;
        if (family == AF_INET) cb4(ctx, inet_value(dst), 32);
        else if (dst && nl_addr_get_len(dst) == 16) cb6(ctx, nl_addr_get_binary_addr(dst));
    }
    nl_cache_free(cache);
    return 0;
}

int bp_neigh_list_permanent(bp_nl *nl, const char *dev, bp_prefix_cb cb, void *ctx) {
    return neigh_list_permanent(nl, dev, AF_INET, cb, NULL, ctx);
}

int bp_neigh6_list_permanent(bp_nl *nl, const char *dev, bp_addr6_cb cb, void *ctx) {
    return neigh_list_permanent(nl, dev, AF_INET6, NULL, cb, ctx);
}

// Used by bp_netns_create: brings lo up in the calling thread's network namespace.
int bp_internal_lo_up(void) {
    bp_nl *nl;
    int rc = bp_nl_open(NULL, &nl);
    if (rc < 0) return rc;
    rc = bp_link_set_up(nl, "lo");
    bp_nl_close(nl);
    return rc;
}
