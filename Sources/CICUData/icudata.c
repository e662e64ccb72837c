/*
 * ICU's data for the release binaries: the trimmed package trim-icu-data.py writes (4.6 MB
 * of the toolchain's 34 MB), under the symbol ICU's code looks it up by. Linked as an
 * object, it comes before the toolchain's lib_FoundationICU.a, so the archive's member with
 * the full package is never pulled in. A dynamically linked (debug) build's Foundation keeps
 * its own, hidden copy and ignores this one.
 * Without the file (`swift build` before `make release`), nothing is defined here.
 * The Makefile touches this file when the data changes, to embed it again.
 */
#pragma clang diagnostic ignored "-Wc23-extensions"  /* #embed, standard in C23 */

#if __has_include("../../build/icu/icudata.h") && __has_embed("../../build/icu/icudt.dat")
#include "../../build/icu/icudata.h"

__attribute__((aligned(16))) const unsigned char BRIDGEPORT_ICU_DATA[] = {
#embed "../../build/icu/icudt.dat"
};
#endif
