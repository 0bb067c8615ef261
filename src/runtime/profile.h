/* profile.h — optional per-kernel wall-clock totals, printed to stderr when the
 * environment variable TORCHLESS_PROFILE=1 is set (read once). */
#ifndef TL_RUNTIME_PROFILE_H
#define TL_RUNTIME_PROFILE_H

enum { TL_PROF_EMBED, TL_PROF_QKV, TL_PROF_ATTN, TL_PROF_ATTN_OUT, TL_PROF_LN, TL_PROF_FFN_IN,
       TL_PROF_FFN_OUT, TL_PROF_N };

/* Returns 1 when profiling is on. */
int tl_prof_enabled(void);
/* Returns a monotonic time in seconds. */
double tl_prof_now(void);
/* Adds seconds to a kernel's total. */
void tl_prof_add(int kernel, double seconds);
/* Prints and resets the totals (one line per kernel) when profiling is on. */
void tl_prof_report(const char *what);

#endif
