/* tests/check/glibc.c: glibc's malloc as a library of its own, for
 * `make check LIB=build/check/glibc.so` (tests/check/run-checks uses it as
 * the reference: a correct allocator).
 *
 * Not part of any lesson. Preloaded, it exports the standard names and
 * forwards each to glibc's own implementation (__libc_malloc & co., or the
 * next definition of the name), so the suite finds them in this library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void* __libc_valloc(size_t);
void* __libc_pvalloc(size_t);

static int (*next_posix_memalign)(void**, size_t, size_t);
static void* (*next_aligned_alloc)(size_t, size_t);
static void* (*next_reallocarray)(void*, size_t, size_t);
static size_t (*next_usable_size)(void*);

__attribute__((constructor)) static void find_next(void) {
    next_posix_memalign = (int (*)(void**, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    next_aligned_alloc = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    next_reallocarray = (void* (*)(void*, size_t, size_t))dlsym(RTLD_NEXT, "reallocarray");
    next_usable_size = (size_t (*)(void*))dlsym(RTLD_NEXT, "malloc_usable_size");
}

void* malloc(size_t n) { return __libc_malloc(n); }
void free(void* p) { __libc_free(p); }
void* calloc(size_t n, size_t s) { return __libc_calloc(n, s); }
void* realloc(void* p, size_t n) { return __libc_realloc(p, n); }
void* memalign(size_t a, size_t n) { return __libc_memalign(a, n); }
void* valloc(size_t n) { return __libc_valloc(n); }
void* pvalloc(size_t n) { return __libc_pvalloc(n); }
int posix_memalign(void** out, size_t a, size_t n) {
    if (next_posix_memalign == NULL) find_next();
    return next_posix_memalign(out, a, n);
}
void* aligned_alloc(size_t a, size_t n) {
    if (next_aligned_alloc == NULL) find_next();
    return next_aligned_alloc(a, n);
}
void* reallocarray(void* p, size_t n, size_t s) {
    if (next_reallocarray == NULL) find_next();
    return next_reallocarray(p, n, s);
}
size_t malloc_usable_size(void* p) {
    if (next_usable_size == NULL) find_next();
    return next_usable_size(p);
}
