// heap.hpp: the block layout, and the heap's functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hmalloc.h"

namespace hm {

// ---- block layout -------------------------------------------------------------
//
// Every block is a header followed by its payload, laid out in the order sbrk
// handed the memory out. The headers form a list of all blocks:
//
//   heap_first                                                 the break
//   |                                                                |
//   v                                                                v
//   +--------+-------------+--------+---------+--------+-------------+
//   | header | payload     | header | payload | header | payload     |
//   +--------+-------------+--------+---------+--------+-------------+
//      next ----------------> next -------------> next = null
//
// Invariants:
//  - `size` is how many payload bytes the block can hold; the payload starts
//    right after the header.
//  - `next` is the block at the next higher address, null for the last one.
//    Usually that is the byte after this block's payload, but not always:
//    someone else may move the break between two of our calls.
//  - A block is handed out only while `free` is false.
struct BlockHeader {
    std::size_t size;
    BlockHeader* next;
    bool free;
};

// The largest request: a bigger one would wrap around when the header is added.
constexpr std::size_t MAX_REQUEST = SIZE_MAX - sizeof(BlockHeader);

// ---- conversions ----------------------------------------------------------------
// The only two places where a payload pointer and a header pointer meet.

inline void* payload_of(BlockHeader* block) { return block + 1; }
inline BlockHeader* header_of(void* payload) { return static_cast<BlockHeader*>(payload) - 1; }

// ---- the heap -----------------------------------------------------------------

void* allocate(std::size_t size);
void release(void* payload);
void walk(hm_visit_fn visit, void* ctx);

}  // namespace hm
