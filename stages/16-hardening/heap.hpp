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
// The heap is a set of regions: runs of memory that our own sbrk calls made
// contiguous (someone else may move the break between two of our calls, and
// then the next growth starts a new region above their memory). Inside a
// region, blocks lie end to end, each starting with a one-word header, its tag:
//
//   used block:  | size |P|U | payload ........................................ |
//   free block:  | size |P|  | next free | prev free | (free) ........ | size   |
//                ^header     ^payload (a multiple of ALIGNMENT)         ^footer
//
// Invariants:
//  - `size` is the whole block, header included, a multiple of ALIGNMENT, so
//    the tag's low bits hold two flags: USED (this block is handed out) and
//    PREV_USED (the block just below it is). The next block's header is at
//    header + size: there is no `next` pointer.
//  - A free block's last word repeats its size (the footer). The block above a
//    free block finds its start without a walk: its own header minus the
//    footer just below it. A used block has no footer (its payload runs up to
//    the next header), and the next block's PREV_USED says not to look for one.
//  - No two neighbours in a region are both free: free merges at once.
//  - Every free block is in the bin of its size (bins.hpp), a list linked
//    through the first two words of its payload.
//  - Headers sit 8 bytes below a multiple of ALIGNMENT, so payloads are aligned.
//  - Each region begins and ends with a fencepost, a used block that is never
//    handed out, so a walk or a merge stops at the region's ends by itself:
//
//   | prologue: 16|U, link | block | block | ... | block | epilogue: 0|U |
//   ^ the region's start                                  the region's end ^
//
//    The prologue's payload word holds the start of the next region (null for
//    the last); the epilogue is a header of size 0 in the region's last word.
struct Block {
    std::size_t tag;  // size | PREV_USED | USED
};

constexpr std::size_t HEADER = sizeof(Block);
constexpr std::size_t USED = 1;
constexpr std::size_t PREV_USED = 2;
constexpr std::size_t FLAGS = ALIGNMENT - 1;
static_assert(HEADER + HEADER == ALIGNMENT, "a header and a footer fill one alignment unit");

// The smallest block: a free one must hold its header, its two links and its footer.
constexpr std::size_t MIN_BLOCK = 4 * HEADER;

// The largest request: a bigger one would wrap around when it is rounded up
// and the header and the padding in front of a block are added.
constexpr std::size_t MAX_REQUEST = SIZE_MAX - HEADER - 2 * ALIGNMENT;

// The block that holds `n` payload bytes: its header, rounded up, and at least MIN_BLOCK.
constexpr std::size_t block_size(std::size_t n) { return n + HEADER > MIN_BLOCK ? align_up(n + HEADER) : MIN_BLOCK; }
static_assert(block_size(0) == MIN_BLOCK && block_size(24) == 32 && block_size(25) == 48);

// ---- reading and writing tags -------------------------------------------------------

inline std::size_t size_of(const Block* b) { return b->tag & ~FLAGS; }
inline bool is_used(const Block* b) { return (b->tag & USED) != 0; }
inline bool prev_used(const Block* b) { return (b->tag & PREV_USED) != 0; }
// The payload bytes a block can hold.
inline std::size_t capacity(const Block* b) { return size_of(b) - HEADER; }
inline Block* block_at(void* address) { return static_cast<Block*>(address); }
inline Block* next_block(Block* b) { return block_at(reinterpret_cast<char*>(b) + size_of(b)); }
// The free block's last word.
inline std::size_t* footer_of(Block* b) {
    return reinterpret_cast<std::size_t*>(reinterpret_cast<char*>(b) + size_of(b) - HEADER);
}
// The block below `b`: only when it is free (PREV_USED clear), which is when it
// has a footer just below `b`.
inline Block* prev_free_block(Block* b) {
    std::size_t prev_size = *(reinterpret_cast<std::size_t*>(b) - 1);
    return block_at(reinterpret_cast<char*>(b) - prev_size);
}

// A free block's links: the first two words of its payload.
struct FreeLinks {
    Block* next;  // the next block of its bin (null at the end)
    Block* prev;  // the one before it (null at the head)
};

// ---- conversions ----------------------------------------------------------------
// The only two places where a payload pointer and a header pointer meet.

inline void* payload_of(Block* block) { return reinterpret_cast<char*>(block) + HEADER; }
inline Block* header_of(void* payload) { return block_at(static_cast<char*>(payload) - HEADER); }
inline FreeLinks* links_of(Block* free_block) { return static_cast<FreeLinks*>(payload_of(free_block)); }

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

// One line on stderr naming the call, the problem and the pointer, then abort.
[[noreturn]] void report(const char* call, const char* problem, const void* payload);

}  // namespace hm
