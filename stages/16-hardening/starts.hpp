// starts.hpp: the map of block starts, a pointer check without a walk.
//
// One bit for every ALIGNMENT bytes of the break heap's address range, set
// where a block's payload starts (used or free), clear everywhere else: inside
// blocks, on the fenceposts, in gaps that belong to someone else. It lives in
// a mapping of its own (never on the heap, and never in front of a pointer),
// and grows with mremap as the heap grows. A pointer is a block of the heap
// only if its bit is set; only then is the header in front of it read.
#pragma once

#include <cstddef>

namespace hm::starts {

// Makes the map cover the heap's range from `begin` up to `end` (the first
// call fixes the range's start at `begin`). False, with nothing changed, if
// the OS refuses the memory or `begin` lies below the range's start.
bool cover(const char* begin, const char* end);

// True if a block's payload starts at `payload`: a pointer we handed out (or a
// free block), never one into the middle of a block or outside the heap.
bool is_start(const void* payload);

// A block's payload starts at `payload` from now on / no longer does. The
// caller has covered the address first.
void set(const void* payload);
void clear(const void* payload);

}  // namespace hm::starts
