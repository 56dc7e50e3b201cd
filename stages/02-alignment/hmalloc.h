/* hmalloc.h: the public C interface of this stage's allocator.
 * (The stage and its journal section are named in heap.cpp.)
 *
 * hmalloc(size) returns a block of at least `size` bytes, or NULL with errno
 * set to ENOMEM. hmalloc(0) returns a unique pointer that may be passed to
 * hfree but not written through. hfree(NULL) does nothing.
 *
 * hwalk() is for the demo and the tests, not for programs: it calls `visit`
 * once for every block of the heap, in address order.
 */
#ifndef HMALLOC_H
#define HMALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *hmalloc(size_t size);
void hfree(void *ptr);

typedef struct hm_block_info {
    const void *header;  /* where the block's header starts */
    size_t header_size;  /* bytes from header to payload */
    void *payload;       /* what hmalloc returned for this block */
    size_t size;         /* payload bytes the block can hold */
    int free;            /* 1 if the block is free */
} hm_block_info;

typedef void (*hm_visit_fn)(const hm_block_info *block, void *ctx);
void hwalk(hm_visit_fn visit, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* HMALLOC_H */
