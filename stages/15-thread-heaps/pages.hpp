// pages.hpp: small blocks in pages of one size class, with no header.
//
// Memory for small blocks comes in segments of SEGMENT bytes from mmap, each
// aligned to its own size, cut into pages of PAGE bytes. A page holds blocks
// of one size class (classes.hpp), end to end, with no header: what a block
// needs to be freed is in its page's record, which sits with the other
// pages' records at the start of the segment, never in front of a block.
//
//   segment (1 MiB, aligned to 1 MiB):
//   | 16 records, 2 bitmaps   | page 0 ... | page 1 ......... | ... | page 15 ........ |
//   ^base                     ^META        ^base + PAGE                     base + SEGMENT ^
//
// The segment of an address is the address with its low bits cleared; a
// map of our segments (one bit for every SEGMENT bytes of the address space)
// says whether it is one of ours, and only then is its page's record read.
// The record says the block's class, and the segment's maps (pages.cpp)
// whether a block starts there and is live, so free and malloc_usable_size
// need no header, and a foreign, interior or freed pointer is told apart in
// O(1).
//
// Stage 15: every thread has a heap of its own (a Heap: its pages with room,
// one list per class), so a thread allocates and frees its own small blocks
// with no lock. A page belongs to one heap at a time. A block freed by
// another thread goes back to its page's heap through that heap's list of
// remote frees, an atomic stack its owner empties when it runs out of room.
// Only what the heaps share takes the heap lock: the empty pages, the
// segments, and the heaps of threads that have exited.
#pragma once

#include <cstddef>

#include "hmalloc.h"

namespace hm::pages {

constexpr std::size_t SEGMENT = std::size_t{1} << 20;
constexpr std::size_t PAGE = std::size_t{64} << 10;

// What an address is to the pages.
enum class Kind {
    not_ours,  // outside every segment: the general heap's or the mappings' business
    live,      // a small block we handed out and that is not freed
    freed,     // the start of a small block that was handed out and freed since
    invalid,   // inside a segment, but not the start of a block we handed out
};

struct Found {
    Kind kind;
    std::size_t size;  // the block's class size (for live)
};

// What `payload` is, in O(1), with no lock.
Found find(const void* payload);

// A block of at least `size` bytes (size <= classes::SMALL_MAX), aligned to
// 16, from the calling thread's heap; null with errno ENOMEM if the OS
// refuses a segment or the thread a heap. Takes the heap lock only when the
// thread's heap has no page with room for the class.
void* allocate(std::size_t size);

// free() of a pointer, in one pass: frees it if it is a live small block and
// returns live; otherwise changes nothing and says what it is (not_ours, or
// freed or invalid for the caller to report). Leaves errno alone.
Kind free_block(void* payload);

// Frees a block find() called live: into the calling thread's heap if the
// block is its own, else onto its owner's list of remote frees. An empty
// page can then serve any class of any heap (unless it is its class's only
// page with room in a live thread's heap: that one stays); a segment whose
// pages are all empty goes back to the OS, but one such segment is kept for
// the next request. False if another thread freed the block first (between
// find() and here): a double free, and nothing is changed.
bool release(void* payload);

// hwalk_mapped(): every live small block whose address lies in [from, to), in
// address order, as a block with no header. The caller holds the heap lock;
// blocks other threads allocate or free meanwhile may or may not be seen.
void walk(hm_visit_fn visit, void* ctx, const void* from, const void* to);

}  // namespace hm::pages
