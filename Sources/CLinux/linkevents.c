// Link and address changes as the kernel announces them: a NETLINK_ROUTE socket
// subscribed to RTMGRP_LINK and RTMGRP_IPV4_IFADDR, read with plain recv (no libnl: four
// message types, three attributes).
#define _GNU_SOURCE
#include "clinux.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

int bp_link_events_open(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -errno;
    struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int bp_link_events_read(int fd, int timeout_ms, bp_link_event_cb cb, void *ctx) {
    char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int ready = poll(&p, 1, timeout_ms);
    if (ready <= 0) return ready < 0 && errno != EINTR ? -errno : 0;
    ssize_t len = recv(fd, buf, sizeof buf, 0);
    if (len < 0 && errno == ENOBUFS) return BP_LINK_EVENTS_LOST;  // the socket goes on
    if (len < 0) return errno == EINTR ? 0 : -errno;
    if (len == 0) return -EPIPE;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR) {
            struct ifaddrmsg *address = NLMSG_DATA(h);
            struct bp_link link = { .name = "", .ifindex = (int)address->ifa_index };
            cb(BP_ADDRESS_CHANGED, &link, ctx);
            continue;
        }
        if (h->nlmsg_type != RTM_DELLINK && h->nlmsg_type != RTM_NEWLINK) continue;
        struct ifinfomsg *info = NLMSG_DATA(h);
        struct bp_link link = { .name = "", .ifindex = info->ifi_index, .type = info->ifi_type,
                                .up = (info->ifi_flags & IFF_UP) != 0 };
        int rest = (int)IFLA_PAYLOAD(h);
        for (struct rtattr *a = IFLA_RTA(info); RTA_OK(a, rest); a = RTA_NEXT(a, rest)) {
            if (a->rta_type == IFLA_IFNAME) link.name = RTA_DATA(a);
            if (a->rta_type == IFLA_IFALIAS) link.alias = RTA_DATA(a);
            if (a->rta_type == IFLA_MASTER) link.master_ifindex = *(int *)RTA_DATA(a);
        }
        cb(h->nlmsg_type == RTM_DELLINK ? BP_LINK_REMOVED : BP_LINK_CHANGED, &link, ctx);
    }
    return 0;
}
