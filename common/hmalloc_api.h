// common/hmalloc_api.h: loading a stage's API from outside (test side).
//
// Not part of any lesson. The suite, the demo and the tools load a stage with
// dlopen and look its functions up one by one, so a stage that lacks a
// function (hcalloc before stage 06) is a missing entry, not a build error.
// dlsym on a handle also searches the library's dependencies (libc has its
// own calloc, malloc...), so a symbol counts only if dladdr says it lives in
// the stage's own file.
#pragma once

#include <dlfcn.h>

#include <cstddef>
#include <type_traits>

extern "C" {
// The same layout as hm_block_info in every stage's hmalloc.h.
typedef struct hm_block_info {
    const void* header;
    size_t header_size;
    void* payload;
    size_t size;
    int free;
} hm_block_info;
typedef void (*hm_visit_fn)(const hm_block_info* block, void* ctx);
}

namespace hm::test {

struct Api {
    void* handle = nullptr;
    // Prefixed API: every stage has the first three, stage 06 on the rest.
    void* (*hmalloc)(std::size_t) = nullptr;
    void (*hfree)(void*) = nullptr;
    void (*hwalk)(hm_visit_fn, void*) = nullptr;
    void* (*hcalloc)(std::size_t, std::size_t) = nullptr;
    void* (*hrealloc)(void*, std::size_t) = nullptr;
    void* (*hreallocarray)(void*, std::size_t, std::size_t) = nullptr;
    // Stage 09 on: the large blocks that have mappings of their own.
    void (*hwalk_mapped)(hm_visit_fn, void*) = nullptr;
};

// The address of `name` if the library behind `handle` (whose base address is
// `base`) defines it itself, else null.
inline void* own_symbol(void* handle, const void* base, const char* name) {
    void* sym = dlsym(handle, name);
    Dl_info info{};
    if (sym == nullptr || dladdr(sym, &info) == 0 || info.dli_fbase != base) return nullptr;
    return sym;
}

// Loads an allocator library at `path` into `api`, its functions named
// with `prefix`: "h" for a stage (hmalloc, hfree, hcalloc, ...), "os_" for
// os_malloc, os_free, ..., "" for the standard names (malloc, free, ...).
// hwalk and hwalk_mapped keep their names whatever the prefix: they are this
// project's. Returns null on success, or why it failed: the library must
// have the prefix's malloc and free, and hwalk when `need_walk` (a library
// without them is not a stage).
inline const char* load_api(const char* path, Api* api, const char* prefix, bool need_walk) {
    static char why[160];
    char name[64];
    auto named = [&](const char* base) {
        std::size_t n = 0;
        for (const char* s = prefix; *s != '\0' && n + 1 < sizeof name; ++s) name[n++] = *s;
        for (const char* s = base; *s != '\0' && n + 1 < sizeof name; ++s) name[n++] = *s;
        name[n] = '\0';
        return name;
    };
    *api = Api{};
    api->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (api->handle == nullptr) return dlerror();
    void* first = dlsym(api->handle, named("malloc"));
    Dl_info info{};
    if (first == nullptr || dladdr(first, &info) == 0) {
        why[0] = '\0';
        const char* parts[] = {"the library has no ", name};
        std::size_t n = 0;
        for (const char* part : parts)
            for (const char* s = part; *s != '\0' && n + 1 < sizeof why; ++s) why[n++] = *s;
        why[n] = '\0';
        return why;
    }
    const void* base = info.dli_fbase;
    auto get = [&](auto& fn, const char* sym) {
        fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(own_symbol(api->handle, base, sym));
    };
    get(api->hmalloc, named("malloc"));
    get(api->hfree, named("free"));
    get(api->hcalloc, named("calloc"));
    get(api->hrealloc, named("realloc"));
    get(api->hreallocarray, named("reallocarray"));
    get(api->hwalk, "hwalk");
    get(api->hwalk_mapped, "hwalk_mapped");
    if (api->hmalloc == nullptr || api->hfree == nullptr) return "the library lacks its malloc or its free";
    if (need_walk && api->hwalk == nullptr) return "the library lacks hmalloc, hfree or hwalk";
    return nullptr;
}

// Loads the stage library at `path` into `api`. Returns null on success, or
// why it failed (a library without hmalloc, hfree and hwalk is not a stage).
inline const char* load_api(const char* path, Api* api) { return load_api(path, api, "h", true); }

}  // namespace hm::test
