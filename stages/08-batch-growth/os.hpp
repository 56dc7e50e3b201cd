// os.hpp: the calls the heap makes to the operating system.
//
// The heap asks the OS for memory only through these functions. Tests count
// and refuse these calls from outside, by interposing sbrk(2).
#pragma once

#include <cstddef>
#include <cstdint>
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

}  // namespace hm::os
