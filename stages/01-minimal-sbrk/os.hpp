// os.hpp: the calls the heap makes to the operating system.
//
// The heap asks the OS for memory only through these functions. Tests count
// and refuse these calls from outside, by interposing sbrk(2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unistd.h>

namespace hm::os {

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

}  // namespace hm::os
