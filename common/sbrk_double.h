/* common/sbrk_double.h: a stand-in for sbrk(2) that tests and tools link in.
 *
 * Not part of any lesson. A program that links common/sbrk_double.cpp (and is
 * linked with -rdynamic) defines its own `sbrk`, which interposes on libc's
 * for every library it loads, so a stage's calls to sbrk land here:
 *
 *  - the "break" moves inside a private region of HM_DOUBLE_REGION bytes
 *    (reserved with mmap, MAP_NORESERVE), never the process's real break,
 *    so glibc's own malloc (which uses the real break internally) cannot
 *    disturb what a test sees;
 *  - the break starts HM_DOUBLE_START_OFFSET bytes into the region, an
 *    offset that is deliberately not a multiple of 16;
 *  - every call is counted, growth (or shrinking) can be refused on demand,
 *    and the next call can be paused (to catch a second thread inside);
 *  - sbrk_double_foreign() moves the break as "someone else" would (glibc's
 *    malloc in a real process), without counting it as the allocator's call;
 *  - brk(2) is stood in for too, on the same break: brk(addr) sets it to
 *    addr with sbrk's rules (counted as a grow or a shrink of the difference,
 *    refused the same way), so an allocator that calls brk (as the classic
 *    os_malloc assignments do) is observed as one that calls sbrk is.
 * Lowering the break gives whole pages above it back (MADV_DONTNEED), as the
 * kernel does, so resident memory can be compared.
 */
#ifndef HM_SBRK_DOUBLE_H
#define HM_SBRK_DOUBLE_H

#include <stddef.h>
#include <stdint.h>
#include <unistd.h> /* declares the sbrk that the double defines */

#ifdef __cplusplus
extern "C" {
#endif

/* 64 GiB of address space, not memory. A tool may build the double with a
 * smaller one (valgrind cannot map more than 32 GiB): -DHM_DOUBLE_REGION=... */
#ifndef HM_DOUBLE_REGION
#define HM_DOUBLE_REGION ((size_t)1 << 36)
#endif
#define HM_DOUBLE_START_OFFSET 8

typedef struct sbrk_double_stats {
    unsigned long calls;    /* every sbrk (or brk) call by the allocator */
    unsigned long queries;  /* sbrk(0) */
    unsigned long grows;    /* sbrk(n > 0) that succeeded */
    unsigned long shrinks;  /* sbrk(n < 0) that succeeded */
    unsigned long refused;  /* calls answered with (void*)-1, ENOMEM */
    size_t peak;            /* highest break seen, as bytes above the region start */
    size_t grown_bytes;     /* the sum of n over the sbrk(n > 0) that succeeded */
    size_t shrunk_bytes;    /* the sum of -n over the sbrk(n < 0) that succeeded */
    unsigned long brk_calls; /* of `calls`, those made through brk() rather than sbrk() */
} sbrk_double_stats;

/* Counters since the last reset (the break itself is not moved). */
sbrk_double_stats sbrk_double_get_stats(void);
void sbrk_double_reset_stats(void);

/* Let `grants` more growth calls succeed, then refuse every growth call with
 * ENOMEM (sbrk(0) always works, shrinking unless refused below). A negative
 * value refuses nothing. */
void sbrk_double_refuse_after(long grants);

/* While on, every shrinking call (sbrk(n < 0)) is refused with ENOMEM, as an
 * OS that cannot give memory back would: the allocator must cope (keep the
 * memory, and leave errno as free promises). Off by default. */
void sbrk_double_refuse_shrink(int on);

/* Pause the next sbrk call, whoever makes it: the calling thread blocks inside
 * sbrk, before the call does anything, until sbrk_double_release(). While it
 * waits, sbrk_double_paused() is 1. Other threads' sbrk calls are not held up
 * (the pause is outside the double's own lock). */
void sbrk_double_pause_next(void);
int sbrk_double_paused(void);
void sbrk_double_release(void);
/* Refuse (ENOMEM) every growth call that would move the break above
 * `highest`, as a data-size limit (RLIMIT_DATA) does; NULL lifts the limit. */
void sbrk_double_limit(const char *highest);

char *sbrk_double_region(void);    /* the region's first byte */
char *sbrk_double_break(void);     /* the current break */
void *sbrk_double_foreign(intptr_t increment); /* someone else calls sbrk */

#ifdef __cplusplus
}
#endif

#endif /* HM_SBRK_DOUBLE_H */
