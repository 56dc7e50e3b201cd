// heap.hpp: the block layout, and the heap's functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hmalloc.h"

namespace hm {

// ---- alignment ----------------------------------------------------------------

// What malloc must guarantee: enough for any fundamental type (16 on x86-64,
// where SSE loads and long double want 16-byte alignment).
constexpr std::size_t ALIGNMENT = alignof(std::max_align_t);

constexpr bool is_power_of_two(std::size_t n) { return n != 0 && (n & (n - 1)) == 0; }
static_assert(is_power_of_two(ALIGNMENT));

// `n` rounded up to a multiple of ALIGNMENT. The caller makes sure it cannot wrap.
constexpr std::size_t align_up(std::size_t n) { return (n + ALIGNMENT - 1) & ~(ALIGNMENT - 1); }
static_assert(align_up(0) == 0 && align_up(1) == ALIGNMENT && align_up(ALIGNMENT) == ALIGNMENT);

// `n` rounded up to a multiple of `alignment`, a power of two.
constexpr std::uintptr_t align_up_to(std::uintptr_t n, std::size_t alignment) {
    return (n + alignment - 1) & ~static_cast<std::uintptr_t>(alignment - 1);
}
static_assert(align_up_to(17, 64) == 64 && align_up_to(128, 64) == 128);

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
//  - Every header, and so every payload, starts at a multiple of ALIGNMENT.
//    When the break is not aligned, the bytes up to the next multiple are
//    left unused in front of the new block.
//  - `size` is how many payload bytes the block can hold, a multiple of
//    ALIGNMENT; the payload starts right after the header.
//  - `next` is the block at the next higher address, null for the last one.
//    Usually that is the byte after this block's payload, but not always:
//    someone else may move the break between two of our calls.
//  - A block is handed out only while `free` is false.
struct alignas(ALIGNMENT) BlockHeader {
    std::size_t size;
    BlockHeader* next;
    bool free;
};
// alignas pads the header to 32 bytes, so a payload right after an aligned
// header is aligned too.
static_assert(sizeof(BlockHeader) % ALIGNMENT == 0);

// The largest request: a bigger one would wrap around when it is rounded up
// and the header and the padding in front of a block are added.
constexpr std::size_t MAX_REQUEST = SIZE_MAX - sizeof(BlockHeader) - 2 * ALIGNMENT;

// The smallest payload worth a block of its own: a split never leaves less.
constexpr std::size_t MIN_PAYLOAD = ALIGNMENT;

// ---- conversions ----------------------------------------------------------------
// The only two places where a payload pointer and a header pointer meet.

inline void* payload_of(BlockHeader* block) { return block + 1; }
inline BlockHeader* header_of(void* payload) { return static_cast<BlockHeader*>(payload) - 1; }

// ---- the heap -----------------------------------------------------------------

void* allocate(std::size_t size);
void release(void* payload);
void* allocate_zeroed(std::size_t count, std::size_t size);
void* reallocate(void* payload, std::size_t size);
void* reallocate_array(void* payload, std::size_t count, std::size_t size);
void* allocate_aligned(std::size_t alignment, std::size_t size);
std::size_t usable_size(void* payload);
void walk(hm_visit_fn visit, void* ctx);
void walk_mapped(hm_visit_fn visit, void* ctx);

}  // namespace hm
