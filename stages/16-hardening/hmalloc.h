/* hmalloc.h: the public C interface of this stage's allocator.
 * (The stage and its journal section are named in heap.cpp.)
 *
 * hmalloc(size) returns a block of at least `size` bytes, or NULL with errno
 * set to ENOMEM. hmalloc(0) returns a unique pointer that may be passed to
 * hfree but not written through. hfree(NULL) does nothing. hfree of a pointer
 * hmalloc did not return, or of one already freed, writes a line naming the
 * problem to stderr and aborts the process, as glibc does.
 *
 * hcalloc(nmemb, size) is hmalloc(nmemb * size) with the block zeroed; a
 * product that overflows is NULL with ENOMEM. hrealloc(ptr, size) resizes:
 * hrealloc(NULL, size) is hmalloc(size); hrealloc(ptr, 0) frees ptr and
 * returns NULL; otherwise it returns the resized block (the same pointer
 * when it could resize in place) with the old contents up to the smaller
 * size, or NULL with ENOMEM and the old block untouched. A pointer it did
 * not hand out is reported on stderr and aborts.
 * hreallocarray(ptr, nmemb, size) is hrealloc(ptr, nmemb * size) with the
 * overflow check of hcalloc.
 *
 * The library also exports the standard names, sharing the same heap:
 * malloc, free, calloc, realloc, reallocarray (the functions above),
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc and
 * malloc_usable_size. Loaded with LD_PRELOAD, it is the process's malloc.
 * They behave as glibc's (2.36) do; where that needs saying, exactly:
 *  - free leaves errno as it found it, as glibc's does (POSIX 2024).
 *  - posix_memalign returns EINVAL unless the alignment is a power of two and
 *    a multiple of sizeof(void *), ENOMEM when there is no memory, and leaves
 *    errno and *memptr alone on failure. glibc's sets errno to ENOMEM as well
 *    when it fails for want of memory; POSIX says only that the error is
 *    returned, so we keep the caller's errno, as free does.
 *  - aligned_alloc with an alignment that is not a power of two is NULL with
 *    EINVAL, as C17 and glibc 2.38 on say. glibc before 2.38 accepted it and
 *    rounded the alignment up, as memalign does (memalign here rounds too).
 *  - malloc_usable_size of a request of up to 1024 bytes is its size class
 *    (16, 32, 48 ... 128, then four classes per doubling up to 1024): so
 *    malloc_usable_size(malloc(0)) is 16, where glibc's is 24. Above 1024
 *    bytes it is the block's capacity, as before (at least the request).
 *  - calloc zeroes the whole block, every byte malloc_usable_size reports.
 *  - realloc(ptr, 0) frees ptr and returns NULL, as glibc's does (C23 makes
 *    it undefined; POSIX allows NULL or a new pointer).
 *  - a bad pointer is reported and aborts (above); glibc catches only some.
 * Every function is thread-safe. fork() may be called at any time, from any
 * thread, also when another library's fork handler allocates: the handlers
 * are registered when the library is loaded (an ELF constructor), before
 * main, and the forking thread may call in while it holds the lock for fork.
 *
 * hwalk() is for the demo and the tests, not for programs: it calls `visit`
 * once for every block of the break heap, in address order, holding the
 * heap's lock (so `visit` must not allocate). hwalk_mapped() does the same
 * for the large blocks that have mappings of their own (each one used; its
 * "header" is the start of its mapping) and for the live small blocks in
 * pages of their size class (no header: header_size 0), in one address order.
 */
#ifndef HMALLOC_H
#define HMALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *hmalloc(size_t size);
void hfree(void *ptr);
void *hcalloc(size_t nmemb, size_t size);
void *hrealloc(void *ptr, size_t size);
void *hreallocarray(void *ptr, size_t nmemb, size_t size);

typedef struct hm_block_info {
    const void *header;  /* where the block's header starts */
    size_t header_size;  /* bytes from header to payload */
    void *payload;       /* what hmalloc returned for this block */
    size_t size;         /* payload bytes the block can hold */
    int free;            /* 1 if the block is free */
} hm_block_info;

typedef void (*hm_visit_fn)(const hm_block_info *block, void *ctx);
void hwalk(hm_visit_fn visit, void *ctx);
void hwalk_mapped(hm_visit_fn visit, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* HMALLOC_H */
