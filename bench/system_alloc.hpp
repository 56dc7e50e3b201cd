// bench/system_alloc.hpp: finding a system allocator and making sure it is
// the one in use.
//
// Not part of any lesson. The peers are Debian's shared libraries, used the
// way their authors intend: preloaded (LD_PRELOAD), so that malloc, free and
// the rest in the whole process are theirs. "glibc" is no library at all:
// the C library's own malloc, with nothing preloaded. Any other name with a
// slash is taken as the path of a library that defines malloc (stage 07's
// build/07/libhmalloc.so).
#pragma once

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hm::bench {

// Where the library of a system allocator is, or null if it is not
// installed (or `name` is glibc, which needs none).
inline const char* find_system_lib(const char* name) {
    static char found[4096];
    if (std::strchr(name, '/') != nullptr) {
        if (realpath(name, found) == nullptr) return nullptr;
        return found;
    }
    static const char* const dirs[] = {"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
                                       "/usr/lib", "/usr/local/lib"};
    const char* files[4] = {};
    if (std::strcmp(name, "jemalloc") == 0) {
        files[0] = "libjemalloc.so.2";
    } else if (std::strcmp(name, "mimalloc") == 0) {
        files[0] = "libmimalloc.so.2";
        files[1] = "libmimalloc.so.2.0";
        files[2] = "libmimalloc.so";
    } else if (std::strcmp(name, "tcmalloc") == 0) {
        files[0] = "libtcmalloc_minimal.so.4";
        files[1] = "libtcmalloc.so.4";
    } else {
        return nullptr;
    }
    for (const char* d : dirs) {
        for (const char* f : files) {
            if (f == nullptr) break;
            std::snprintf(found, sizeof found, "%s/%s", d, f);
            if (access(found, R_OK) == 0) return found;
        }
    }
    return nullptr;
}

// The file that defines the process's malloc.
inline const char* malloc_library() {
    Dl_info info{};
    void* defined = dlsym(RTLD_DEFAULT, "malloc");
    return defined != nullptr && dladdr(defined, &info) != 0 && info.dli_fname != nullptr ? info.dli_fname : "?";
}

inline const char* base_name(const char* path) {
    const char* slash = std::strrchr(path, '/');
    return slash != nullptr ? slash + 1 : path;
}

// Makes `name` the process's malloc: returns if it already is, else sets
// LD_PRELOAD and runs `program` (with `argv`) again, once. Exits with 64 if
// the allocator is not installed or the preload does not take.
inline void use_system_allocator(const char* name, const char* program, char** argv) {
    const char* current = malloc_library();
    if (std::strcmp(name, "glibc") == 0) {
        if (std::strstr(base_name(current), "libc.so") != nullptr) return;
        if (getenv("HM_BENCH_REEXEC") != nullptr) {
            std::fprintf(stderr, "%s: asked for glibc but malloc comes from %s\n", argv[0], current);
            std::exit(64);
        }
        unsetenv("LD_PRELOAD");
    } else {
        const char* lib = find_system_lib(name);
        if (lib == nullptr) {
            std::fprintf(stderr, "%s: %s is not installed (no library found); see bench/README.md\n", argv[0], name);
            std::exit(64);
        }
        if (std::strcmp(base_name(current), base_name(lib)) == 0) return;
        if (getenv("HM_BENCH_REEXEC") != nullptr) {
            std::fprintf(stderr, "%s: preloaded %s but malloc comes from %s\n", argv[0], lib, current);
            std::exit(64);
        }
        setenv("LD_PRELOAD", lib, 1);
    }
    setenv("HM_BENCH_REEXEC", "1", 1);
    execv(program, argv);
    std::fprintf(stderr, "%s: cannot run %s\n", argv[0], program);
    std::exit(64);
}

}  // namespace hm::bench
