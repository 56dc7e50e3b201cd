// api.cpp: the names the library exports, and nothing else.
//
// Thin C wrappers over namespace hm. The library is compiled with hidden
// visibility, so these are its only dynamic symbols. From stage 15 the
// wrappers take no lock: a thread's small blocks need none, and the heap's
// functions take the heap lock (lock.hpp) themselves around what threads
// share. Only the walks hold it for the whole call.
#include <bit>
#include <cerrno>
#include <cstdint>
#include <unistd.h>

#include "heap.hpp"
#include "hmalloc.h"
#include "lock.hpp"

#define HM_EXPORT extern "C" __attribute__((visibility("default")))

// A second exported name for an exported function: the same code, so the
// prefixed and the standard names always share one heap.
#define HM_ALIAS(name, target) HM_EXPORT __attribute__((alias(#target))) decltype(target) name;

namespace {

// posix_memalign must leave errno as it found it (free keeps it itself,
// where it can change: see hm::release).
class ErrnoKeeper {
public:
    ErrnoKeeper() : saved_(errno) {}
    ~ErrnoKeeper() { errno = saved_; }
    ErrnoKeeper(const ErrnoKeeper&) = delete;
    ErrnoKeeper& operator=(const ErrnoKeeper&) = delete;

private:
    int saved_;
};

std::size_t page_size() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

void* aligned(std::size_t alignment, std::size_t size) { return hm::allocate_aligned(alignment, size); }

// Runs when the library is loaded, before main. It allocates nothing itself.
__attribute__((constructor)) void at_load() { hm::register_fork_handlers(); }

}  // namespace

// ---- the prefixed names, as in every stage ---------------------------------------

HM_EXPORT void* hmalloc(size_t size) {
    return hm::allocate(size);
}
HM_EXPORT void hfree(void* ptr) { hm::release(ptr); }
HM_EXPORT void* hcalloc(size_t nmemb, size_t size) {
    return hm::allocate_zeroed(nmemb, size);
}
HM_EXPORT void* hrealloc(void* ptr, size_t size) {
    return hm::reallocate(ptr, size);
}
HM_EXPORT void* hreallocarray(void* ptr, size_t nmemb, size_t size) {
    return hm::reallocate_array(ptr, nmemb, size);
}
HM_EXPORT void hwalk(hm_visit_fn visit, void* ctx) {
    hm::LockGuard guard;
    hm::walk(visit, ctx);
}
HM_EXPORT void hwalk_mapped(hm_visit_fn visit, void* ctx) {
    hm::LockGuard guard;
    hm::walk_mapped(visit, ctx);
}

// ---- the standard names -------------------------------------------------------------
//
// LD_PRELOAD puts this library ahead of libc, so every call to these names
// in the process, libc's own included, comes here. They are replaced as a
// family: a block from one allocator must never reach the other's free.

HM_ALIAS(malloc, hmalloc)
HM_ALIAS(free, hfree)
HM_ALIAS(calloc, hcalloc)
HM_ALIAS(realloc, hrealloc)
HM_ALIAS(reallocarray, hreallocarray)

// EINVAL unless `alignment` is a power of two and a multiple of sizeof(void*);
// ENOMEM if there is no memory; *memptr and errno are left alone on failure.
HM_EXPORT int posix_memalign(void** memptr, size_t alignment, size_t size) {
    ErrnoKeeper keep;
    if (!hm::is_power_of_two(alignment) || alignment % sizeof(void*) != 0) return EINVAL;
    void* payload = aligned(alignment, size);
    if (payload == nullptr) return ENOMEM;
    *memptr = payload;
    return 0;
}

// C17 and glibc 2.38 on: an alignment that is not a power of two is EINVAL.
HM_EXPORT void* aligned_alloc(size_t alignment, size_t size) {
    if (!hm::is_power_of_two(alignment)) {
        errno = EINVAL;
        return nullptr;
    }
    return aligned(alignment, size);
}

// glibc's memalign rounds an alignment that is not a power of two up to the
// next one; only one too large to round is EINVAL.
HM_EXPORT void* memalign(size_t alignment, size_t size) {
    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return nullptr;
    }
    return aligned(std::bit_ceil(alignment), size);
}

HM_EXPORT void* valloc(size_t size) { return aligned(page_size(), size); }

// A whole number of pages, at least one.
HM_EXPORT void* pvalloc(size_t size) {
    std::size_t page = page_size();
    if (size > SIZE_MAX - page) {
        errno = ENOMEM;
        return nullptr;
    }
    std::size_t rounded = size == 0 ? page : (size + page - 1) / page * page;
    return aligned(page, rounded);
}

HM_EXPORT size_t malloc_usable_size(void* ptr) {
    if (ptr == nullptr) return 0;
    return hm::usable_size(ptr);
}
