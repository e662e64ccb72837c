/*
 * The BPF objects built by `make bpf`, embedded into the binary (C23 #embed), so
 * an installed agent needs no source tree. Built without them (plain `swift build`
 * before `make bpf`), the table is empty and the agent looks for the files.
 * The Makefile touches this file whenever an object changes, to re-embed it.
 */
#include "cbpf.h"

#include <errno.h>
#include <string.h>

#pragma clang diagnostic ignored "-Wc23-extensions"  /* #embed, standard in C23 */

#if __has_embed("../../build/bpf/endpoint.bpf.o") && __has_embed("../../build/bpf/uplink.bpf.o") && \
	__has_embed("../../build/bpf/sock.bpf.o")
static const unsigned char endpoint_object[] = {
#embed "../../build/bpf/endpoint.bpf.o"
};
static const unsigned char uplink_object[] = {
#embed "../../build/bpf/uplink.bpf.o"
};
static const unsigned char sock_object[] = {
#embed "../../build/bpf/sock.bpf.o"
};

static const struct {
	const char *name;
	const unsigned char *data;
	size_t size;
} objects[] = {
	{ "endpoint.bpf.o", endpoint_object, sizeof(endpoint_object) },
	{ "uplink.bpf.o", uplink_object, sizeof(uplink_object) },
	{ "sock.bpf.o", sock_object, sizeof(sock_object) },
};
#define OBJECT_COUNT (sizeof(objects) / sizeof(objects[0]))
#else
static const struct {
	const char *name;
	const unsigned char *data;
	size_t size;
} objects[1];
#define OBJECT_COUNT 0
#endif

struct bpf_object *cbpf_object_open_embedded(const char *name, const char *pin_root)
{
	for (size_t i = 0; i < OBJECT_COUNT; i++) {
		if (strcmp(objects[i].name, name) != 0)
			continue;
		LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root, .object_name = name);
		struct bpf_object *obj = bpf_object__open_mem(objects[i].data, objects[i].size, &opts);
		if (!obj && errno == 0)
			errno = EINVAL;
		return obj;
	}
	errno = ENOENT;
	return NULL;
}

int cbpf_has_embedded_objects(void)
{
	return OBJECT_COUNT > 0;
}
