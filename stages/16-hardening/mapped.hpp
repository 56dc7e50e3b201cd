// mapped.hpp: large blocks, each in a mapping of its own.
//
// A request of MMAP_THRESHOLD bytes or more does not go on the break heap:
// it gets fresh pages from mmap, and free gives them straight back. Such a
// block has no header. What we know about it is in a table, kept in pages
// we map ourselves (never on the heap, and never read from in front of a
// pointer), so a pointer is a mapped block only if the table lists it.
// A guard page that faults on any access ends the block's mapping, so a
// write past the block's end stops the program instead of landing in the
// mapping above (JOURNAL.md#stage-16). There is none in front: mremap
// moves only a mapping whose pages share one protection, and a block that
// grows must keep its first page where it is until mremap moves it.
//
//   | payload ........................................... | guard |
//   ^start (the payload, or below it when aligned)                 ^start + length
#pragma once

#include <cstddef>

#include "hmalloc.h"
#include "os.hpp"

namespace hm::mapped {

// glibc's default M_MMAP_THRESHOLD: 128 KiB.
constexpr std::size_t MMAP_THRESHOLD = std::size_t{128} << 10;

struct Mapping {
    void* payload;       // what malloc returned
    char* start;         // the mapping: [start, start + length), its last page the guard
    std::size_t length;  // a multiple of the page size
};

// The payload's usable size: from the payload to the guard page at the end of its mapping.
inline std::size_t usable(const Mapping* m) {
    return static_cast<std::size_t>(m->start + m->length - os::page_size() - static_cast<char*>(m->payload));
}

// The mapping whose payload is exactly `payload`, or null.
Mapping* find(const void* payload);

// A new mapped block of at least `size` bytes, its payload a multiple of
// `alignment` (a power of two), zeroed; null if the OS refuses (errno is not set).
void* create(std::size_t size, std::size_t alignment);

// Unmaps the block and forgets it. False if the OS refuses: then the block
// stays as it was.
bool destroy(Mapping* m);

// Resizes the block to at least `size` bytes with mremap (it may move).
// The new payload, or null with the block untouched.
void* resize(Mapping* m, std::size_t size);

// hwalk_mapped(): every mapped block, in address order.
void walk(hm_visit_fn visit, void* ctx);

}  // namespace hm::mapped
