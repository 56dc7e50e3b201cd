// heap.cpp: stage 01-minimal-sbrk, the smallest allocator that works.
// Journal: JOURNAL.md#stage-01
//
// A header in front of every block, a list of all blocks, first fit over the
// free ones, sbrk when nothing fits. hfree only marks a block free.
#include "heap.hpp"

#include <cerrno>

#include "os.hpp"

namespace hm {
namespace {

// ---- state --------------------------------------------------------------------

constinit BlockHeader* heap_first = nullptr;  // lowest block; null until the first block
constinit BlockHeader* heap_last = nullptr;   // highest block; new blocks go after it

void* out_of_memory() {
    errno = ENOMEM;
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

// ---- growing the heap -------------------------------------------------------------

// A new block of `size` payload bytes at the break, linked after the last one.
BlockHeader* grow_heap(std::size_t size) {
    void* memory = os::grow_break(sizeof(BlockHeader) + size);
    if (memory == nullptr) return nullptr;
    auto* block = static_cast<BlockHeader*>(memory);
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

}  // namespace

// ---- the API --------------------------------------------------------------------

void* allocate(std::size_t size) {
    if (size > MAX_REQUEST) return out_of_memory();
    if (BlockHeader* block = find_fit(size)) {
        block->free = false;
        return payload_of(block);
    }
    BlockHeader* block = grow_heap(size);
    if (block == nullptr) return out_of_memory();
    return payload_of(block);
}

void release(void* payload) {
    if (payload == nullptr) return;
    header_of(payload)->free = true;
}

void walk(hm_visit_fn visit, void* ctx) {
    for (BlockHeader* b = heap_first; b != nullptr; b = b->next) {
        hm_block_info info{b, sizeof(BlockHeader), payload_of(b), b->size, b->free};
        visit(&info, ctx);
    }
}

}  // namespace hm
