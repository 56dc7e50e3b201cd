// pages.hpp: small blocks in pages of one size class, with no header.
//
// Memory for small blocks comes in segments of SEGMENT bytes from mmap, each
// aligned to its own size, cut into pages of PAGE bytes. A page holds blocks
// of one size class (classes.hpp), end to end, with no header: what a block
// needs to be freed is in its page's record, which sits with the other
// pages' records at the start of the segment, never in front of a block.
//
//   segment (1 MiB, aligned to 1 MiB):
//   | records of its 16 pages | page 0 ... | page 1 ......... | ... | page 15 ........ |
//   ^base                     ^META        ^base + PAGE                     base + SEGMENT ^
//
// The segment of an address is the address with its low bits cleared; a
// table of our segments (in pages of its own) says whether it is one of
// ours, and only then is its page's record read. The record says the block's
// class and whether a block starts there and is live (a bitmap), so free and
// malloc_usable_size need no header, and a foreign, interior or freed
// pointer is told apart in O(1). A freed block's link to the next is
// encoded and checked before it is followed (pages.cpp, "hardening").
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

// What `payload` is, in O(1).
Found find(const void* payload);

// A block of at least `size` bytes (size <= classes::SMALL_MAX), aligned to
// 16; null if the OS refuses a segment (errno is not set).
void* allocate(std::size_t size);

// Frees a block find() called live; `call` names the call in a report of
// a block found overwritten (HMALLOC_CHECK=full). An empty page can then serve any class
// (unless it is its class's only page with room: that one stays); a segment
// whose pages are all empty goes back to the OS, but one such segment is
// kept for the next request.
void release(void* payload, const char* call = "free");

// hwalk_mapped(): every live small block whose address lies in [from, to), in
// address order, as a block with no header.
void walk(hm_visit_fn visit, void* ctx, const void* from, const void* to);

}  // namespace hm::pages
