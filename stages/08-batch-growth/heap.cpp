// heap.cpp: stage 08-batch-growth, the break moves in large steps.
// Journal: JOURNAL.md#stage-08
//
// Stage 07, but the heap grows by at least GROW_MIN bytes at a time: the new
// space becomes a free block that allocate splits, so most requests need no
// system call. The free top goes back to the OS only once it passes
// TRIM_THRESHOLD, and then only down to TOP_PAD (hysteresis).
#include "heap.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>

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

// Bad input is a bug in the program: one line on stderr, then abort, as
// glibc does. Carrying on would hide the bug; the heap is left as it was.
[[noreturn]] void report(const char* call, const char* problem, const void* payload) {
    print::Line(STDERR_FILENO)
        .text("hmalloc: ").text(call).text("(): ").text(problem).text(" ")
        .pointer(payload).text("; aborting\n")
        .flush();
    std::abort();
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

// The smallest step the break moves up by: one system call serves many requests.
constexpr std::size_t GROW_MIN = std::size_t{128} << 10;
// The free top of the heap is given back only once it is larger than this...
constexpr std::size_t TRIM_THRESHOLD = std::size_t{256} << 10;
// ... and then not all of it: this much stays free for the next requests.
constexpr std::size_t TOP_PAD = std::size_t{128} << 10;
static_assert(TOP_PAD < TRIM_THRESHOLD, "a trim must leave the top below the threshold");

// Moves the break up by `need` bytes, or by about GROW_MIN if that is
// more; if the OS refuses the big step, by just `need`. Returns where the
// new memory starts (null if even `need` is refused) and sets `*grown` to
// its size. The caller's `need` ends at a multiple of ALIGNMENT, and so does
// the big step: the top block always ends exactly at the break.
void* grow_break_batch(std::size_t need, std::size_t* grown) {
    if (need < GROW_MIN) {
        std::size_t step = need + align_up(GROW_MIN - need);
        if (void* memory = os::grow_break(step)) {
            *grown = step;
            return memory;
        }
    }
    *grown = need;
    return os::grow_break(need);
}

// Makes room at the top of the heap for a block of `size` payload bytes and
// returns the free block there that can hold it; null if the OS refuses.
// When the last block is free and the break still ends at it, it is grown;
// otherwise the new space becomes a free block of its own after it. The
// break need not be aligned (someone else may have moved it by any amount),
// so a new block starts at the next multiple of ALIGNMENT.
BlockHeader* grow_heap(std::size_t size) {
    auto at = reinterpret_cast<std::uintptr_t>(os::current_break());
    BlockHeader* last = heap_last;
    if (last != nullptr && last->free && reinterpret_cast<std::uintptr_t>(end_of(last)) == at) {
        std::size_t grown = 0;
        if (grow_break_batch(size - last->size, &grown) == nullptr) return nullptr;
        last->size += grown;
        return last;
    }
    std::size_t padding = align_up(at) - at;
    std::size_t grown = 0;
    void* memory = grow_break_batch(padding + sizeof(BlockHeader) + size, &grown);
    if (memory == nullptr) return nullptr;
    auto* block = reinterpret_cast<BlockHeader*>(static_cast<char*>(memory) + padding);
    block->size = grown - padding - sizeof(BlockHeader);
    block->next = nullptr;
    block->free = true;
    if (last != nullptr) {
        last->next = block;
    } else {
        heap_first = block;
    }
    heap_last = block;
    return block;
}

// ---- trimming ---------------------------------------------------------------

// Gives part of the free top of the heap back to the OS: the last block,
// once it is free and holds more than TRIM_THRESHOLD bytes. The break comes
// down by whole pages, leaving that block at least TOP_PAD bytes. No walk:
// coalescing never leaves two free blocks side by side, so the free run at
// the top is the last block alone. Only while the break still ends at our
// last block: if someone else has moved it, lowering it would take their
// memory away.
void trim_break() {
    BlockHeader* top = heap_last;
    if (top == nullptr || !top->free || top->size <= TRIM_THRESHOLD) return;
    if (os::current_break() != end_of(top)) return;
    std::size_t page = os::page_size();
    std::size_t release = (top->size - TOP_PAD) / page * page;
    if (!os::shrink_break(release)) return;
    top->size -= release;
}

// ---- resizing in place --------------------------------------------------------

// Shrinks a used block to `size` bytes; the tail it no longer needs becomes a
// free block, merged with a free block after it and given back to the OS if
// it ends the heap.
void shrink_block(BlockHeader* block, std::size_t size) {
    std::size_t old_size = block->size;
    split_block(block, size);
    if (block->size == old_size) return;  // the tail was too small to stand alone
    coalesce(block->next, block);
    trim_break();
}

// Grows a used block to `size` bytes without moving it: into the free block
// right after it and, when that is not enough but the block (or the free
// block after it) ends the heap where the break is, by moving the break.
// False, with nothing changed, if neither works.
bool grow_in_place(BlockHeader* block, std::size_t size) {
    BlockHeader* next = block->next;
    bool next_free = free_neighbour(block, next);
    std::size_t room = block->size + (next_free ? sizeof(BlockHeader) + next->size : 0);
    if (room < size) {
        BlockHeader* top = next_free ? next : block;
        if (top != heap_last || os::current_break() != end_of(top)) return false;
        std::size_t grown = 0;
        if (grow_break_batch(size - room, &grown) == nullptr) return false;
        top->size += grown;
    }
    if (next_free) absorb_next(block);
    split_block(block, size);
    return true;
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
    split_block(block, size);
    block->free = false;
    return payload_of(block);
}

void release(void* payload) {
    if (payload == nullptr) return;
    BlockHeader* prev = nullptr;
    BlockHeader* block = find_block(payload, &prev);
    if (block == nullptr) report("free", "invalid pointer", payload);
    if (block->free) report("free", "double free of", payload);
    block->free = true;
    coalesce(block, prev);
    trim_break();
}

void* allocate_zeroed(std::size_t count, std::size_t size) {
    std::size_t bytes = 0;
    if (__builtin_mul_overflow(count, size, &bytes)) return out_of_memory();
    void* payload = allocate(bytes);
    if (payload == nullptr) return nullptr;
    // Always cleared, and all of it: a reused block holds whatever its last
    // owner wrote, and malloc_usable_size tells the caller it may use every
    // byte of the block, not only the `bytes` it asked for.
    std::memset(payload, 0, header_of(payload)->size);
    return payload;
}

void* reallocate(void* payload, std::size_t size) {
    if (payload == nullptr) return allocate(size);
    BlockHeader* prev = nullptr;
    BlockHeader* block = find_block(payload, &prev);
    if (block == nullptr) report("realloc", "invalid pointer", payload);
    if (block->free) report("realloc", "pointer to a free block", payload);
    if (size == 0) {
        release(payload);
        return nullptr;
    }
    if (size > MAX_REQUEST) return out_of_memory();
    size = align_up(size);
    if (size <= block->size) {
        shrink_block(block, size);
        return payload;
    }
    if (grow_in_place(block, size)) return payload;
    void* moved = allocate(size);
    if (moved == nullptr) return nullptr;  // allocate set errno; the old block is untouched
    std::memcpy(moved, payload, block->size);
    release(payload);
    return moved;
}

void* reallocate_array(void* payload, std::size_t count, std::size_t size) {
    std::size_t bytes = 0;
    if (__builtin_mul_overflow(count, size, &bytes)) return out_of_memory();
    return reallocate(payload, bytes);
}

void* allocate_aligned(std::size_t alignment, std::size_t size) {
    if (alignment <= ALIGNMENT) return allocate(size);
    if (size > MAX_REQUEST - alignment - sizeof(BlockHeader) - MIN_PAYLOAD) return out_of_memory();
    size = align_up(size);
    // Room for the block, for sliding it up to the next multiple of
    // `alignment`, and for a free block of its own in front of it.
    void* payload = allocate(size + alignment + sizeof(BlockHeader) + MIN_PAYLOAD);
    if (payload == nullptr) return nullptr;
    BlockHeader* block = header_of(payload);
    auto at = reinterpret_cast<std::uintptr_t>(payload);
    if (at % alignment != 0) {
        //   | header | front (freed) ...... | header | aligned payload ...... |
        //   ^block                          ^aligned  ^multiple of alignment
        std::uintptr_t aligned_at = align_up_to(at + sizeof(BlockHeader) + MIN_PAYLOAD, alignment);
        auto* aligned = header_of(reinterpret_cast<void*>(aligned_at));
        aligned->size = static_cast<std::size_t>(end_of(block) - reinterpret_cast<char*>(aligned_at));
        aligned->next = block->next;
        aligned->free = false;
        block->size = static_cast<std::size_t>(reinterpret_cast<char*>(aligned) - static_cast<char*>(payload));
        block->next = aligned;
        if (heap_last == block) heap_last = aligned;
        release(payload);
        block = aligned;
    }
    shrink_block(block, size);
    return payload_of(block);
}

std::size_t usable_size(void* payload) {
    BlockHeader* prev = nullptr;
    BlockHeader* block = find_block(payload, &prev);
    if (block == nullptr || block->free) report("malloc_usable_size", "invalid pointer", payload);
    return block->size;  // only for a block we handed out: report() does not return
}

void walk(hm_visit_fn visit, void* ctx) {
    for (BlockHeader* b = heap_first; b != nullptr; b = b->next) {
        hm_block_info info{b, sizeof(BlockHeader), payload_of(b), b->size, b->free};
        visit(&info, ctx);
    }
}

}  // namespace hm
