// Network namespaces: create/delete bind-mounted namespaces (like `ip netns add/del`)
// and re-execute the process inside one.
#define _GNU_SOURCE
#include "clinux.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

struct create_job {
    const char *path;
    int rc;
};

// Runs on a throwaway thread: unshare moves only this thread into the new namespace,
// and the bind mount keeps the namespace alive after the thread exits.
static void *create_thread(void *arg) {
    struct create_job *job = arg;
    char self[64];
    if (unshare(CLONE_NEWNET) < 0) {
        job->rc = -errno;
        return NULL;
    }
    snprintf(self, sizeof self, "/proc/self/task/%d/ns/net", gettid());
    if (mount(self, job->path, "none", MS_BIND, NULL) < 0) {
        job->rc = -errno;
        return NULL;
    }
    job->rc = bp_internal_lo_up();
    return NULL;
}

int bp_netns_create(const char *path) {
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) return -errno;
    close(fd);

    struct create_job job = { path, 0 };
    pthread_t thread;
    int err = pthread_create(&thread, NULL, create_thread, &job);
    if (err) job.rc = -err;
    else pthread_join(thread, NULL);

    if (job.rc < 0) bp_netns_delete(path);
    return job.rc;
}

int bp_netns_delete(const char *path) {
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) return -errno;
    if (unlink(path) < 0 && errno != ENOENT) return -errno;
    return 0;
}

int bp_netns_is_mounted(const char *path) {
    struct statfs st;
    return statfs(path, &st) == 0 && st.f_type == NSFS_MAGIC;
}

int bp_reexec_in_netns(const char *name, char *const argv[]) {
    char path[PATH_MAX];
    if (strchr(name, '/')) snprintf(path, sizeof path, "%s", name);
    else snprintf(path, sizeof path, "/run/netns/%s", name);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) {
        int saved = errno;
        close(fd);
        return -saved;
    }
    // setns affects only this thread; execv then replaces the whole process with it.
    int rc = 0;
    if (setns(fd, CLONE_NEWNET) < 0) rc = -errno;
    else if (setenv("BRIDGEPORT_NETNS_ENTERED", "1", 1) < 0) rc = -errno;
    else {
        execv("/proc/self/exe", argv);
        rc = -errno;
        unsetenv("BRIDGEPORT_NETNS_ENTERED");
    }
    // Failed: put this thread back where it was.
    if (setns(home, CLONE_NEWNET) < 0) {
        perror("bridgeport: cannot return to the original network namespace");
        abort();
    }
    close(fd);
    close(home);
    return rc;
}

int bp_netns_cookie(const char *path, uint64_t *cookie) {
    int target = -1, home = -1, rc = 0;
    if (path) {
        // Only this thread switches, and only for the socket() call.
        if ((target = open(path, O_RDONLY | O_CLOEXEC)) < 0) return -errno;
        if ((home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) { rc = -errno; goto out; }
        if (setns(target, CLONE_NEWNET) < 0) { rc = -errno; goto out; }
    }
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) rc = -errno;
    if (path && setns(home, CLONE_NEWNET) < 0) {
        perror("bridgeport: cannot return to the original network namespace");
        abort();
    }
    if (sock >= 0) {
        socklen_t len = sizeof *cookie;
        if (getsockopt(sock, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) < 0) rc = -errno;
        close(sock);
    }
out:
    if (target >= 0) close(target);
    if (home >= 0) close(home);
    return rc;
}

int bp_netns_enter(const char *path, int *home) {
    int target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0) return -errno;
    if ((*home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
        int rc = -errno;
        close(target);
        return rc;
    }
    int rc = setns(target, CLONE_NEWNET) < 0 ? -errno : 0;
    close(target);
    if (rc < 0) close(*home);
    return rc;
}

void bp_netns_leave(int home) {
    if (setns(home, CLONE_NEWNET) < 0) {
        // The thread would keep running in the wrong namespace: never continue.
        perror("bridgeport: cannot return to the original network namespace");
        abort();
    }
    close(home);
}
