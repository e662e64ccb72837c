// Helpers shared by the CLinux C files (not part of the public contract).
#pragma once

// Brings lo up in the calling thread's network namespace (netlink.c).
int bp_internal_lo_up(void);
