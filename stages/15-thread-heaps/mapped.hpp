// mapped.hpp: large blocks, each in a mapping of its own.
//
// A request of MMAP_THRESHOLD bytes or more does not go on the break heap:
// it gets fresh pages from mmap, and free gives them straight back. Such a
// block has no header. What we know about it is in a table, kept in pages
// we map ourselves (never on the heap, and never read from in front of a
// pointer), so a pointer is a mapped block only if the table lists it.
#pragma once

#include <cstddef>

#include "hmalloc.h"

namespace hm::mapped {

// glibc's default M_MMAP_THRESHOLD: 128 KiB.
constexpr std::size_t MMAP_THRESHOLD = std::size_t{128} << 10;

struct Mapping {
    void* payload;       // what malloc returned
    char* start;         // the mapping: [start, start + length)
    std::size_t length;  // a multiple of the page size
};

// The payload's usable size: from the payload to the end of its mapping.
inline std::size_t usable(const Mapping* m) {
    return static_cast<std::size_t>(m->start + m->length - static_cast<char*>(m->payload));
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
