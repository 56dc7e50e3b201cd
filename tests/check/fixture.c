/* tests/check/fixture.c: a small allocator with os_ names, on brk and mmap,
 * for `make check` (tests/check/run-checks builds it several times).
 *
 * Not part of any lesson, and not a stage: the kind of allocator a class
 * writes (os_malloc, os_free, os_calloc, os_realloc, os_reallocarray).
 * Small blocks come from the break (sbrk(0) to find it, brk to move it),
 * a free list, first fit, split, no coalescing; the top block goes back to
 * the OS when freed (brk down). Requests of 128 KiB or more get a mapping
 * of their own (mmap, munmap, mremap). Bad pointers are refused with a
 * message and abort(). One lock for everything.
 *
 * Built with -DBUG=N it is one of the broken allocators the check must
 * tell from correct ones (tests/check/expected.txt names the tests each must fail):
 *   1 misaligned   results 8 bytes off the 16-byte alignment
 *   2 nocopy       realloc that moves a block forgets to copy it
 *   3 overlap      the block's state word lies in the first 8 bytes of the
 *                  payload, and is rewritten while the block is live
 *   4 doublefree   realloc that moves a block frees the old one twice, so
 *                  the free list hands the same block out twice
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef BUG
#define BUG 0
#endif

#define ALIGN 16
#define LARGE ((size_t)128 << 10)
#define MAGIC ((uintptr_t)0x6f735f6d616c6c6fULL)
#define F_FREE 1u
#define F_MAPPED 2u

/* The header: 32 bytes before the payload (BUG 3: 16 bytes, so `state`
 * is the payload's first word; BUG 1: the payload is 8 bytes further). */
struct header {
    struct header* below; /* the block below on the break heap, if adjacent */
    size_t size;          /* usable bytes */
    uintptr_t state;      /* MAGIC ^ address, with the flags in the low bits */
};
#if BUG == 3
#define PAYLOAD_OFFSET 16
#elif BUG == 1
#define PAYLOAD_OFFSET 40
#else
#define PAYLOAD_OFFSET 32
#endif
#define OVERHEAD 48 /* room for the header before any payload offset */

static char* heap_lo;  /* the first byte the heap ever used */
static char* heap_end; /* the end of our last block (our idea of the break) */
static struct header* top_block;
/* The free blocks, in a table of their own (newest last). */
#define MAX_FREE 65536
static struct header* free_blocks[MAX_FREE];
static size_t nfree;

static void push_free(struct header* h) {
    if (nfree < MAX_FREE) free_blocks[nfree++] = h; /* else: leaked, never wrong */
}
static volatile int lock_word;

static void lock(void) { while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE)) {} }
static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

static char* payload_of(struct header* h) { return (char*)h + PAYLOAD_OFFSET; }
static struct header* header_of(void* p) { return (struct header*)((char*)p - PAYLOAD_OFFSET); }
static uintptr_t seal(struct header* h, unsigned flags) { return ((MAGIC ^ (uintptr_t)h) & ~(uintptr_t)7) | flags; }
static int sealed(struct header* h) { return (h->state & ~(uintptr_t)7) == ((MAGIC ^ (uintptr_t)h) & ~(uintptr_t)7); }

/* Mappings of large blocks, to tell our pointers from others. */
#define MAX_MAPS 4096
static struct header* maps[MAX_MAPS];
static size_t nmaps;

static void say(const char* fn, const char* problem, void* p) {
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s(): %s %p\n", fn, problem, p);
    if (n > 0) { ssize_t ignored = write(2, buf, (size_t)n); (void)ignored; }
}

static size_t round_up(size_t n) { return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

/* Where a block placed at `at` has its header: the first place from which
 * the payload is 16-aligned (BUG 1: 8 bytes past a multiple of 16). */
static char* block_at(char* at) {
    uintptr_t p = (uintptr_t)at + PAYLOAD_OFFSET;
    uintptr_t want = BUG == 1 ? 8 : 0;
    p += (want - p) & (ALIGN - 1);
    return (char*)(p - PAYLOAD_OFFSET);
}

static void* grow(size_t size) {
    char* brk_now = sbrk(0);
    if (brk_now == (char*)-1) return NULL;
    if (heap_lo == NULL) heap_lo = brk_now;
    char* start = block_at(brk_now);
    char* end = payload_of((struct header*)start) + size;
    if (end < brk_now || brk(end) != 0) { errno = ENOMEM; return NULL; }
    struct header* h = (struct header*)start;
    if (top_block != NULL) {
        /* The old top is not the top any more: its state is sealed again
         * (BUG 3: this word is the first 8 bytes of a live block's data). */
        top_block->state = seal(top_block, (unsigned)(top_block->state & F_FREE));
    }
    /* Adjacent to our last block only if nobody moved the break since. */
    h->below = top_block != NULL && heap_end == brk_now ? top_block : NULL;
    h->size = size;
    h->state = seal(h, 0);
    top_block = h;
    heap_end = end;
    return payload_of(h);
}

static void unlink_free(struct header* h) {
    for (size_t i = 0; i < nfree; ++i) {
        if (free_blocks[i] == h) {
            free_blocks[i] = free_blocks[--nfree];
            return;
        }
    }
}

static void release(struct header* h) {
    if (h == top_block && sbrk(0) == heap_end) {
        /* The top of the heap, and the break is still ours: give it back,
         * with the free blocks right below it. Everything is read and
         * unlinked first: after brk those headers lie beyond the break. */
        struct header* lowest = h;
        while (lowest->below != NULL && (lowest->below->state & F_FREE)) {
            lowest = lowest->below;
            unlink_free(lowest);
        }
        struct header* new_top = lowest->below;
        uintptr_t state = h->state;
        h->state = 0;
        if (brk(lowest) == 0) {
            top_block = new_top;
            heap_end = (char*)lowest;
            return;
        }
        /* The OS refused: all of them stay, free. */
        h->state = state;
        for (struct header* b = h->below; b != NULL && b != new_top; b = b->below) push_free(b);
    }
    h->state = seal(h, F_FREE);
    push_free(h);
}

static void* take_free(size_t size) {
    for (size_t i = nfree; i-- > 0;) {
        struct header* h = free_blocks[i];
        if (h->size < size) continue;
        free_blocks[i] = free_blocks[--nfree];
        h->state = seal(h, 0);
        /* Split when the rest can hold a block of its own (not the top
         * block: its end must stay where the break is). */
        char* rest = block_at(payload_of(h) + size);
        char* end = payload_of(h) + h->size;
        if (rest + OVERHEAD + ALIGN <= end && h != top_block) {
            struct header* r = (struct header*)rest;
            r->below = h;
            /* The block above, if adjacent, now lies above r. */
            struct header* above = (struct header*)block_at(end);
            if ((char*)above < heap_end && sealed(above) && above->below == h) above->below = r;
            r->size = (size_t)(end - payload_of(r));
            h->size = (size_t)(rest - payload_of(h));
            r->state = seal(r, F_FREE);
            push_free(r);
        }
        return payload_of(h);
    }
    return NULL;
}

/* A large block's mapping: MAP_HEAD bytes, then the payload (BUG 1: 8
 * bytes later); the header ends at the payload. */
#define MAP_HEAD 64
static struct header* mapped_header(void* m) {
    return (struct header*)((char*)m + MAP_HEAD + (BUG == 1 ? 8 : 0) - PAYLOAD_OFFSET);
}
static void* mapping_of(struct header* h) { return payload_of(h) - MAP_HEAD - (BUG == 1 ? 8 : 0); }

static void* map_large(size_t size) {
    if (nmaps == MAX_MAPS || size > (size_t)PTRDIFF_MAX - 4096) { errno = ENOMEM; return NULL; }
    void* m = mmap(NULL, size + MAP_HEAD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) { errno = ENOMEM; return NULL; }
    struct header* h = mapped_header(m);
    h->size = size;
    h->state = seal(h, F_MAPPED);
    maps[nmaps++] = h;
    return payload_of(h);
}

static size_t map_index(struct header* h) {
    for (size_t i = 0; i < nmaps; ++i)
        if (maps[i] == h) return i;
    return nmaps;
}

static void* alloc_locked(size_t size) {
    if (size > (size_t)PTRDIFF_MAX) { errno = ENOMEM; return NULL; }
    size = round_up(size == 0 ? 1 : size);
    if (size >= LARGE) return map_large(size);
    void* p = take_free(size);
    return p != NULL ? p : grow(size);
}

/* Our block, live? Returns its header, or reports and aborts. */
static struct header* checked(const char* fn, void* p) {
    struct header* h = header_of(p);
    char* c = (char*)p;
    int in_heap = heap_lo != NULL && c >= heap_lo + PAYLOAD_OFFSET && c <= heap_end;
    if (!in_heap && map_index(h) == nmaps) { say(fn, "invalid pointer", p); abort(); }
    if (!sealed(h) || (uintptr_t)c % ALIGN != (BUG == 1 ? 8 : 0)) { say(fn, "invalid pointer", p); abort(); }
    if (h->state & F_FREE) { say(fn, "double free of", p); abort(); }
    return h;
}

static void free_locked(const char* fn, void* p) {
    struct header* h = checked(fn, p);
    if (h->state & F_MAPPED) {
        size_t i = map_index(h);
        maps[i] = maps[--nmaps];
        h->state = 0;
        munmap(mapping_of(h), h->size + MAP_HEAD);
        return;
    }
    release(h);
}

void* os_malloc(size_t size) {
    lock();
    void* p = alloc_locked(size);
    unlock();
    return p;
}

void os_free(void* p) {
    if (p == NULL) return;
    int saved = errno;
    lock();
    free_locked("os_free", p);
    unlock();
    errno = saved;
}

void* os_calloc(size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size) { errno = ENOMEM; return NULL; }
    void* p = os_malloc(n * size);
    if (p != NULL) memset(p, 0, n * size);
    return p;
}

void* os_realloc(void* p, size_t size) {
    if (p == NULL) return os_malloc(size);
    if (size == 0) { os_free(p); return NULL; }
    lock();
    struct header* h = checked("os_realloc", p);
    if (size > (size_t)PTRDIFF_MAX) { unlock(); errno = ENOMEM; return NULL; }
    if (h->state & F_MAPPED && round_up(size) >= LARGE) {
        void* n = mremap(mapping_of(h), h->size + MAP_HEAD, round_up(size) + MAP_HEAD, MREMAP_MAYMOVE);
        if (n == MAP_FAILED) { unlock(); errno = ENOMEM; return NULL; }
        size_t i = map_index(h);
        h = mapped_header(n);
        h->size = round_up(size);
        h->state = seal(h, F_MAPPED);
        maps[i] = h;
        unlock();
        return payload_of(h);
    }
    if (!(h->state & F_MAPPED) && size <= h->size) { unlock(); return p; }
    void* q = alloc_locked(size);
    if (q == NULL) { unlock(); return NULL; }
#if BUG != 2
    memcpy(q, p, h->size < size ? h->size : size);
#endif
    free_locked("os_realloc", p);
#if BUG == 4
    push_free(h); /* the bug: the old block goes on the free list twice */
#endif
    unlock();
    return q;
}

void* os_reallocarray(void* p, size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size) { errno = ENOMEM; return NULL; }
    return os_realloc(p, n * size);
}
