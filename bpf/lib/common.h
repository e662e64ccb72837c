/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Includes and verdicts shared by Bridgeport's programs. */
#ifndef BP_LIB_COMMON_H
#define BP_LIB_COMMON_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "../bridgeport.h"
#include "helper_count.h" /* -DBP_COUNT_HELPERS only: every helper call counted */

/*
 * tcx verdicts (Linux >= 6.6). Debian 12's uapi headers predate them; the
 * values are ABI and equal the classic TC_ACT_* ones.
 */
#ifndef TCX_NEXT
#define TCX_NEXT     (-1) /* == TC_ACT_UNSPEC */
#define TCX_PASS     0    /* == TC_ACT_OK */
#define TCX_DROP     2    /* == TC_ACT_SHOT */
#define TCX_REDIRECT 7    /* == TC_ACT_REDIRECT */
#endif

/*
 * "Not my business, carry on": under tcx the next program in the chain runs
 * (and the packet passes if there is none); under clsact + cls_bpf in
 * direct-action mode TC_ACT_UNSPEC continues with the next filter and passes
 * at the end. Returning TCX_PASS/TC_ACT_OK would skip later programs.
 */
#define BP_CONTINUE TCX_NEXT
#define BP_DROP     TCX_DROP

/* Verdicts of the cgroup socket hooks: the call goes on, or fails with EPERM. */
#define BP_SOCK_ALLOW  1
#define BP_SOCK_REFUSE 0

#endif /* BP_LIB_COMMON_H */
