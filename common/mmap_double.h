/* common/mmap_double.h: a stand-in for mmap(2), munmap(2) and mremap(2)
 * that tests and tools link in, next to the sbrk double.
 *
 * Not part of any lesson. A program that links common/mmap_double.cpp (and
 * is linked with -rdynamic) defines its own `mmap`, `munmap` and `mremap`,
 * which interpose on libc's for every library it loads, so a stage's calls
 * land here (glibc's own internal calls, from dlopen or pthread_create, do
 * not: they never go through the exported names). Each call:
 *
 *  - is forwarded to the kernel with syscall(2), so the memory is real;
 *  - is counted, with the bytes it mapped or unmapped;
 *  - can be refused with ENOMEM on demand (mmap, and mremap that grows),
 *    and is refused when the bytes mapped through the double would pass
 *    HM_MMAP_DOUBLE_LIMIT, so a huge request fails the same way on every
 *    machine, whatever its overcommit setting;
 *  - updates a table of the live mappings made through the double, so a
 *    test can see what is mapped and what was given back.
 * Nothing here calls malloc and the state needs no constructor.
 */
#ifndef HM_MMAP_DOUBLE_H
#define HM_MMAP_DOUBLE_H

#include <stddef.h>
#include <sys/mman.h> /* declares what the double defines */

#ifdef __cplusplus
extern "C" {
#endif

/* 64 GiB, as the sbrk double's region. */
#ifndef HM_MMAP_DOUBLE_LIMIT
#define HM_MMAP_DOUBLE_LIMIT ((size_t)1 << 36)
#endif

typedef struct mmap_double_stats {
    unsigned long calls;    /* every mmap, munmap and mremap call */
    unsigned long maps;     /* mmap calls that succeeded */
    unsigned long unmaps;   /* munmap calls that succeeded */
    unsigned long remaps;   /* mremap calls that succeeded ... */
    unsigned long moved;    /* ... of which moved the mapping */
    unsigned long refused;  /* calls answered with ENOMEM on purpose or over the limit */
    unsigned long failed;   /* calls the kernel refused */
    size_t mapped_bytes;    /* bytes mapped by mmap, or added by a growing mremap */
    size_t unmapped_bytes;  /* bytes unmapped by munmap, or cut by a shrinking mremap */
    size_t live_bytes;      /* bytes mapped through the double now */
    size_t peak_bytes;      /* the most live_bytes has been */
} mmap_double_stats;

/* Counters since the last reset (live_bytes is not reset: it is a state). */
mmap_double_stats mmap_double_get_stats(void);
void mmap_double_reset_stats(void);

/* Let `grants` more mmap calls (and growing mremap calls) succeed, then
 * refuse them with ENOMEM. munmap and shrinking mremap always work. A
 * negative value refuses nothing. */
void mmap_double_refuse_after(long grants);

typedef struct mmap_double_mapping {
    char *start;
    size_t length;
} mmap_double_mapping;

/* The live mappings made through the double, in address order: fills up to
 * `max` entries of `out` and returns how many there are. */
size_t mmap_double_mappings(mmap_double_mapping *out, size_t max);

/* 1 if [p, p + n) lies inside one live mapping made through the double. */
int mmap_double_is_mapped(const void *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* HM_MMAP_DOUBLE_H */
