// heap.cpp: stage 02-alignment, every payload aligned for any type.
// Journal: JOURNAL.md#stage-02
//
// Stage 01 plus alignment: sizes are rounded up to ALIGNMENT, the header is a
// multiple of ALIGNMENT, and a new block starts at an aligned address even
// when the break is not aligned. hfree only marks a block free.
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

}  // namespace

// ---- the API --------------------------------------------------------------------

void* allocate(std::size_t size) {
    if (size > MAX_REQUEST) return out_of_memory();
    size = align_up(size);
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
