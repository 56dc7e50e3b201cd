// heap.cpp: stage 05-coalescing, neighbouring free blocks become one.
// Journal: JOURNAL.md#stage-05
//
// Stage 04 plus coalescing: when hfree frees a block, it merges it with the
// block after it and the block before it if they are free and directly
// adjacent, so free space does not stay cut into pieces too small to use.
#include "heap.hpp"

#include <cerrno>

#include "os.hpp"
#include "print.hpp"

namespace hm {
namespace {

// ---- state --------------------------------------------------------------------

constinit BlockHeader* heap_first = nullptr;  // lowest block; null until the first block
constinit BlockHeader* heap_last = nullptr;   // highest block; new blocks go after it

void* out_of_memory() {
    errno = ENOMEM;
    return nullptr;
}

// Bad input is refused loudly: one line on stderr, and the heap is left as it was.
void report(const char* call, const char* problem, const void* payload) {
    print::Line(STDERR_FILENO)
        .text("hmalloc: ").text(call).text("(): ").text(problem).text(" ")
        .pointer(payload).text("; ignored\n")
        .flush();
}

// The first byte after the block's payload.
char* end_of(BlockHeader* block) { return static_cast<char*>(payload_of(block)) + block->size; }

// ---- checking a pointer -------------------------------------------------------

// The block whose payload starts at `payload`, or null if we never handed
// that pointer out (a foreign pointer, or one into the middle of a block).
// `*prev` is set to the block before it. Walks the whole list: a pointer is
// trusted only once it is found, never by reading memory in front of it.
BlockHeader* find_block(void* payload, BlockHeader** prev) {
    *prev = nullptr;
    for (BlockHeader* b = heap_first; b != nullptr; *prev = b, b = b->next) {
        if (payload_of(b) == payload) return b;
    }
    return nullptr;
}

// ---- finding a block ------------------------------------------------------------

// First fit: the lowest free block that can hold `size` bytes.
BlockHeader* find_fit(std::size_t size) {
    for (BlockHeader* b = heap_first; b != nullptr; b = b->next) {
        if (b->free && b->size >= size) return b;
    }
    return nullptr;
}

// ---- splitting ----------------------------------------------------------------

// Cuts `block` down to `size` payload bytes and makes the rest a free block
// right after it, if the rest can hold a header and MIN_PAYLOAD bytes;
// otherwise the block stays whole and the few spare bytes go with it.
//
//   before:  | header | size ........ spare ....................... |
//   after:   | header | size ........ | header | rest (free) ...... |
void split_block(BlockHeader* block, std::size_t size) {
    if (block->size < size + sizeof(BlockHeader) + MIN_PAYLOAD) return;
    auto* rest = reinterpret_cast<BlockHeader*>(static_cast<char*>(payload_of(block)) + size);
    rest->size = block->size - size - sizeof(BlockHeader);
    rest->next = block->next;
    rest->free = true;
    block->size = size;
    block->next = rest;
    if (heap_last == block) heap_last = rest;
}

// ---- coalescing -----------------------------------------------------------------

// Merges the block after `block` into it. The caller has checked that the
// next block is free and starts right where `block` ends.
void absorb_next(BlockHeader* block) {
    BlockHeader* next = block->next;
    block->size += sizeof(BlockHeader) + next->size;
    block->next = next->next;
    if (heap_last == next) heap_last = block;
}

// True if `second` is free and starts at the first byte after `first`: no
// memory of someone else's lies between them.
bool free_neighbour(BlockHeader* first, BlockHeader* second) {
    return second != nullptr && second->free && end_of(first) == reinterpret_cast<char*>(second);
}

// Merges the free block `block` with its free neighbours, right then left.
// `prev` is the block before it (null for the first block).
void coalesce(BlockHeader* block, BlockHeader* prev) {
    if (free_neighbour(block, block->next)) absorb_next(block);
    if (prev != nullptr && prev->free && free_neighbour(prev, block)) absorb_next(prev);
}

// ---- growing the heap -------------------------------------------------------------

// A new block of `size` payload bytes at the break, linked after the last one.
// The break need not be aligned (someone else may have moved it by any
// amount), so grow by the padding up to the next multiple of ALIGNMENT too.
BlockHeader* grow_heap(std::size_t size) {
    auto at = reinterpret_cast<std::uintptr_t>(os::current_break());
    std::size_t padding = align_up(at) - at;
    void* memory = os::grow_break(padding + sizeof(BlockHeader) + size);
    if (memory == nullptr) return nullptr;
    auto* block = reinterpret_cast<BlockHeader*>(static_cast<char*>(memory) + padding);
    block->size = size;
    block->next = nullptr;
    block->free = false;
    if (heap_last != nullptr) {
        heap_last->next = block;
    } else {
        heap_first = block;
    }
    heap_last = block;
    return block;
}

// ---- trimming ---------------------------------------------------------------

// Gives the free blocks at the top of the heap back to the OS: the run of
// free blocks that ends with the last block, however long, as far down as
// it has no gap (memory that is not ours) in it. Only while the break still
// ends at our last block: if someone else has moved it, lowering it would
// take their memory away.
void trim_break() {
    if (heap_last == nullptr || !heap_last->free) return;
    if (os::current_break() != end_of(heap_last)) return;
    BlockHeader* run = nullptr;         // first block of the free run at the top
    BlockHeader* before_run = nullptr;  // the block that becomes the last one
    BlockHeader* prev = nullptr;
    for (BlockHeader* b = heap_first; b != nullptr; prev = b, b = b->next) {
        bool run_goes_on = run != nullptr && b->free && end_of(prev) == reinterpret_cast<char*>(b);
        if (!run_goes_on) {
            run = b->free ? b : nullptr;
            before_run = prev;
        }
    }
    if (!os::shrink_break(static_cast<std::size_t>(end_of(heap_last) - reinterpret_cast<char*>(run)))) return;
    if (before_run != nullptr) {
        before_run->next = nullptr;
    } else {
        heap_first = nullptr;
    }
    heap_last = before_run;
}

}  // namespace

// ---- the API --------------------------------------------------------------------

void* allocate(std::size_t size) {
    if (size > MAX_REQUEST) return out_of_memory();
    size = align_up(size);
    if (BlockHeader* block = find_fit(size)) {
        split_block(block, size);
        block->free = false;
        return payload_of(block);
    }
    BlockHeader* block = grow_heap(size);
    if (block == nullptr) return out_of_memory();
    return payload_of(block);
}

void release(void* payload) {
    if (payload == nullptr) return;
    BlockHeader* prev = nullptr;
    BlockHeader* block = find_block(payload, &prev);
    if (block == nullptr) return report("hfree", "invalid pointer", payload);
    if (block->free) return report("hfree", "double free of", payload);
    block->free = true;
    coalesce(block, prev);
    trim_break();
}

void walk(hm_visit_fn visit, void* ctx) {
    for (BlockHeader* b = heap_first; b != nullptr; b = b->next) {
        hm_block_info info{b, sizeof(BlockHeader), payload_of(b), b->size, b->free};
        visit(&info, ctx);
    }
}

}  // namespace hm
