// os.hpp: the calls the heap makes to the operating system.
//
// The heap asks the OS for memory only through these functions. Tests count
// and refuse these calls from outside, by interposing sbrk(2), mmap(2),
// munmap(2) and mremap(2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

namespace hm::os {

// ---- the break ----------------------------------------------------------------

// Where the program break is now: sbrk(0) moves nothing.
inline void* current_break() { return ::sbrk(0); }

// The size of a page: the unit in which the OS takes memory back.
inline std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

// ---- growing ----------------------------------------------------------------

// Moves the program break up by `bytes` and returns where it was, which is
// where the new memory starts; nullptr if the OS refuses. sbrk takes a signed
// increment, so a request above PTRDIFF_MAX would shrink the heap instead:
// refuse it here.
inline void* grow_break(std::size_t bytes) {
    if (bytes > static_cast<std::size_t>(PTRDIFF_MAX)) return nullptr;
    void* old_break = ::sbrk(static_cast<std::intptr_t>(bytes));
    return old_break == reinterpret_cast<void*>(-1) ? nullptr : old_break;
}

// ---- shrinking ----------------------------------------------------------------

// Moves the program break down by `bytes`; false if the OS refuses.
inline bool shrink_break(std::size_t bytes) {
    if (bytes > static_cast<std::size_t>(PTRDIFF_MAX)) return false;
    return ::sbrk(-static_cast<std::intptr_t>(bytes)) != reinterpret_cast<void*>(-1);
}

// ---- mappings of their own ----------------------------------------------------------

// `bytes` (a multiple of the page size) of fresh, zeroed, read/write memory
// anywhere in the address space; nullptr if the OS refuses.
inline void* map(std::size_t bytes) {
    void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return memory == MAP_FAILED ? nullptr : memory;
}

// The same, asking for the mapping to start at `hint`; the kernel may put
// it elsewhere (the caller checks where it landed).
inline void* map_at(void* hint, std::size_t bytes) {
    void* memory = ::mmap(hint, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return memory == MAP_FAILED ? nullptr : memory;
}

// Gives a mapping back; false if the OS refuses.
inline bool unmap(void* memory, std::size_t bytes) { return ::munmap(memory, bytes) == 0; }

// Resizes a mapping to `new_bytes`, moving it if it cannot grow where it is
// (the kernel moves the pages, not their contents); nullptr if the OS
// refuses, and then the old mapping is untouched.
inline void* remap(void* memory, std::size_t old_bytes, std::size_t new_bytes) {
    void* moved = ::mremap(memory, old_bytes, new_bytes, MREMAP_MAYMOVE);
    return moved == MAP_FAILED ? nullptr : moved;
}

// ---- guard pages ----------------------------------------------------------------

// Makes `bytes` of a mapping (whole pages) fault on any access; false if the OS refuses.
inline bool protect(void* memory, std::size_t bytes) { return ::mprotect(memory, bytes, PROT_NONE) == 0; }

// Makes them readable and writable again; false if the OS refuses.
inline bool unprotect(void* memory, std::size_t bytes) {
    return ::mprotect(memory, bytes, PROT_READ | PROT_WRITE) == 0;
}

// ---- randomness ---------------------------------------------------------------------

// `bytes` random bytes from the kernel, without waiting; false if it refuses.
inline bool random_bytes(void* out, std::size_t bytes) {
    return ::getrandom(out, bytes, GRND_NONBLOCK) == static_cast<ssize_t>(bytes);
}

// Eight of the random bytes the kernel gave the process at exec (AT_RANDOM).
inline std::uintptr_t exec_random() {
    std::uintptr_t word = 0;
    if (auto at = ::getauxval(AT_RANDOM)) __builtin_memcpy(&word, reinterpret_cast<const char*>(at) + 8, sizeof word);
    return word;
}

}  // namespace hm::os
