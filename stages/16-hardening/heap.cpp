// heap.cpp: stage 16-hardening, a heap of small blocks per thread, checked.
// Journal: JOURNAL.md#stage-16
//
// A request of up to classes::SMALL_MAX bytes is served from a page of
// blocks of its size class (pages.cpp), with no header, from the calling
// thread's own heap and with no lock; every call asks the pages first
// whether a pointer is theirs. Larger requests keep stage 13's segregated
// fits on the break heap and stage 09's mappings, which every thread shares:
// the functions here take the heap lock (lock.hpp) around them, and only
// around them (they never hold it while they call the pages).
#include "heap.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "bins.hpp"
#include "classes.hpp"
#include "lock.hpp"
#include "mapped.hpp"
#include "os.hpp"
#include "pages.hpp"
#include "print.hpp"
#include "starts.hpp"

namespace hm {
namespace {

// ---- state --------------------------------------------------------------------

constinit Block* first_region = nullptr;  // prologue of the lowest region; null until the first block
constinit Block* last_region = nullptr;   // prologue of the highest region; the heap grows there
constinit char* region_end = nullptr;     // the end of the last region: the break, unless someone moved it
// The bins: each a doubly linked list of free blocks. An exact bin's list has
// the block freed last first; a range bin's is sorted, smallest first, and
// among blocks of one size the one freed last comes first.
constinit Block* bin_head[bins::COUNT] = {};
// Bit i of the bitmap (word i / 64, bit i % 64) is set exactly when bin i is not empty.
constinit std::uint64_t nonempty[bins::WORDS] = {};

void* out_of_memory() {
    errno = ENOMEM;
    return nullptr;
}

}  // namespace

// Bad input is a bug in the program: one line on stderr, then abort, as
// glibc does. Carrying on would hide the bug; the heap is left as it was.
// The pages report through it too (a free list found overwritten).
[[noreturn]] void report(const char* call, const char* problem, const void* payload) {
    print::Line(STDERR_FILENO)
        .text("hmalloc: ").text(call).text("(): ").text(problem).text(" ")
        .pointer(payload).text("; aborting\n")
        .flush();
    std::abort();
}

namespace {

// ---- regions --------------------------------------------------------------------

// The prologue: a used block of two words, its tag and the link to the next region.
constexpr std::size_t PROLOGUE = 2 * HEADER;

// The prologue's payload word: the next region's prologue.
Block*& next_region(Block* prologue) { return *static_cast<Block**>(payload_of(prologue)); }
// The lowest real block of a region (the epilogue, if the region has none).
Block* first_block(Block* prologue) { return next_block(prologue); }
// The epilogue is the only block of size 0.
bool is_epilogue(const Block* b) { return size_of(b) == 0; }
// The last region's epilogue: the last word below region_end.
Block* last_epilogue() { return block_at(region_end - HEADER); }

// ---- marking blocks -----------------------------------------------------------

// `b` is handed out: its tag says so, and so does the next block's PREV_USED.
void mark_used(Block* b) {
    b->tag |= USED;
    next_block(b)->tag |= PREV_USED;
}

// Makes `b` a free block of `size` bytes (its PREV_USED kept): the tag, the
// footer, and the next block's PREV_USED.
void make_free(Block* b, std::size_t size) {
    b->tag = size | (b->tag & PREV_USED);
    *footer_of(b) = size;
    next_block(b)->tag &= ~PREV_USED;
}

// ---- the bins ----------------------------------------------------------------------

void mark_nonempty(std::size_t bin) { nonempty[bin / bins::WORD_BITS] |= std::uint64_t{1} << (bin % bins::WORD_BITS); }
void mark_empty(std::size_t bin) { nonempty[bin / bins::WORD_BITS] &= ~(std::uint64_t{1} << (bin % bins::WORD_BITS)); }

// The first non-empty bin at or above `bin`, or bins::COUNT if there is none:
// a count-trailing-zeros on each of the bitmap's two words at most, never a
// look at an empty bin.
std::size_t next_nonempty(std::size_t bin) {
    for (std::size_t word = bin / bins::WORD_BITS; word < bins::WORDS; ++word) {
        std::uint64_t bits = nonempty[word];
        if (word == bin / bins::WORD_BITS) bits &= ~std::uint64_t{0} << (bin % bins::WORD_BITS);
        if (bits != 0) return word * bins::WORD_BITS + static_cast<std::size_t>(std::countr_zero(bits));
    }
    return bins::COUNT;
}

// Puts a free block in the bin of its size. In an exact bin it goes to the
// head: it is the first one reused. In a range bin it goes in front of the
// first block at least as large, so the bin stays sorted and the block freed
// last leads those of its size; that walks past the smaller blocks of the bin.
void push_free(Block* b) {
    std::size_t size = size_of(b);
    std::size_t bin = bins::index_of(size);
    Block* before = nullptr;
    Block* after = bin_head[bin];
    if (!bins::is_exact(bin)) {
        while (after != nullptr && size_of(after) < size) {
            before = after;
            after = links_of(after)->next;
        }
    }
    FreeLinks* l = links_of(b);
    l->next = after;
    l->prev = before;
    if (after != nullptr) links_of(after)->prev = b;
    if (before != nullptr) {
        links_of(before)->next = b;
    } else {
        bin_head[bin] = b;
    }
    mark_nonempty(bin);
}

// Takes a free block out of its bin (it is about to be used, or merged away).
// Its size must still be the one it was put in with.
void unlink_free(Block* b) {
    FreeLinks* l = links_of(b);
    if (l->prev != nullptr) {
        links_of(l->prev)->next = l->next;
    } else {
        std::size_t bin = bins::index_of(size_of(b));
        bin_head[bin] = l->next;
        if (l->next == nullptr) mark_empty(bin);
    }
    if (l->next != nullptr) links_of(l->next)->prev = l->prev;
}

// ---- checking a pointer -------------------------------------------------------

// The block whose payload starts at `payload`, or null if we never handed
// that pointer out (a foreign pointer, or one into the middle of a block).
// Asks the map of block starts, and reads the header in front of the pointer
// only once the map says a block starts there: no walk.
Block* find_block(void* payload) { return starts::is_start(payload) ? header_of(payload) : nullptr; }

// ---- finding a block ------------------------------------------------------------

// Best fit: the smallest free block of at least `size` bytes, header
// included (a multiple of ALIGNMENT); among blocks of that size, the one
// freed last. The request's own bin first: a range bin is searched from its
// smallest block up to the first that fits. Then every block in a higher bin
// fits, and the head of the first non-empty one is the smallest of them.
Block* find_fit(std::size_t size) {
    std::size_t bin = bins::index_of(size);
    if (!bins::is_exact(bin)) {
        for (Block* b = bin_head[bin]; b != nullptr; b = links_of(b)->next) {
            if (size_of(b) >= size) return b;
        }
        ++bin;
    }
    std::size_t found = next_nonempty(bin);
    return found < bins::COUNT ? bin_head[found] : nullptr;
}

// ---- splitting ----------------------------------------------------------------

// Cuts `block` down to `size` bytes and makes the rest a free block right
// after it, if the rest can stand alone (MIN_BLOCK); otherwise the block stays
// whole and the few spare bytes go with it. The block keeps its flags.
//
//   before:  | tag | size ........ spare ................................. |
//   after:   | tag | size ........ | tag | rest (free) ............ | foot |
void split_block(Block* block, std::size_t size) {
    std::size_t whole = size_of(block);
    if (whole < size + MIN_BLOCK) return;
    block->tag = size | (block->tag & FLAGS);
    Block* rest = next_block(block);
    rest->tag = is_used(block) ? PREV_USED : 0;
    make_free(rest, whole - size);
    starts::set(payload_of(rest));
    push_free(rest);
}

// ---- coalescing -----------------------------------------------------------------

// `block` has just become free (USED clear, no footer yet, in no bin). Merges it with a
// free block above it and a free block below it, both found from the tags in
// O(1): the next header is at block + size, and PREV_USED clear means a footer
// lies just below the block. The fenceposts are used, so a merge never leaves
// the region. Returns the merged block, footer written, in the bin of its size.
Block* coalesce(Block* block) {
    std::size_t size = size_of(block);
    Block* next = next_block(block);
    if (!is_used(next)) {
        size += size_of(next);
        starts::clear(payload_of(next));
        unlink_free(next);
    }
    if (!prev_used(block)) {
        starts::clear(payload_of(block));
        block = prev_free_block(block);
        size += size_of(block);
        unlink_free(block);
    }
    make_free(block, size);
    push_free(block);
    return block;
}

// Gives a used block back: it becomes free and merges with its neighbours.
Block* free_block(Block* block) {
    block->tag &= ~USED;
    return coalesce(block);
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
// its size. The caller's `need` is a multiple of ALIGNMENT, and so is the
// big step: the last region always ends at a multiple of ALIGNMENT.
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

// The break has just moved up by `grown` bytes from region_end: the last
// region's epilogue becomes the header of a free block of `grown` bytes, a new
// epilogue closes the region, and the block merges with a free block below it.
Block* extend_last_region(std::size_t grown) {
    Block* block = last_epilogue();
    region_end += grown;
    last_epilogue()->tag = USED;
    block->tag = grown | (block->tag & PREV_USED);
    starts::set(payload_of(block));
    return coalesce(block);
}

// Starts a new region at the break (the first, or one above memory someone
// else took) with room for a block of `size` bytes, and links it after the
// last region. The region's start is placed so that its headers sit 8 bytes
// below a multiple of ALIGNMENT. Returns its one free block; null if the OS
// refuses.
//
//   | padding | prologue: 16|U, link=null | free block ........ | 0|U |
//             ^start                                                   ^the break
Block* new_region(std::size_t size) {
    auto at = reinterpret_cast<std::uintptr_t>(os::current_break());
    std::size_t padding = align_up(at + HEADER) - HEADER - at;
    auto* start = reinterpret_cast<char*>(at);
    if (!starts::cover(start, start + padding + PROLOGUE + size + HEADER + GROW_MIN)) return nullptr;
    std::size_t grown = 0;
    void* memory = grow_break_batch(padding + PROLOGUE + size + HEADER, &grown);
    if (memory == nullptr) return nullptr;
    Block* prologue = block_at(static_cast<char*>(memory) + padding);
    prologue->tag = PROLOGUE | USED | PREV_USED;
    next_region(prologue) = nullptr;
    region_end = static_cast<char*>(memory) + grown;
    last_epilogue()->tag = USED;
    Block* block = first_block(prologue);
    block->tag = PREV_USED;
    make_free(block, grown - padding - PROLOGUE - HEADER);
    starts::set(payload_of(block));
    push_free(block);
    if (last_region != nullptr) {
        next_region(last_region) = prologue;
    } else {
        first_region = prologue;
    }
    last_region = prologue;
    return block;
}

// Makes room for a block of `size` bytes and returns the free block that can
// hold it; null if the OS refuses. While the break still ends the last region,
// the region grows (and its free top block with it); otherwise a new region
// starts at the break.
Block* grow_heap(std::size_t size) {
    if (last_region != nullptr && os::current_break() == region_end) {
        Block* epilogue = last_epilogue();
        std::size_t top = prev_used(epilogue) ? 0 : size_of(prev_free_block(epilogue));
        if (!starts::cover(region_end, region_end + size - top + GROW_MIN)) return nullptr;
        std::size_t grown = 0;
        // Never less than MIN_BLOCK: the new space may have to stand alone in a bin.
        if (grow_break_batch(size - top > MIN_BLOCK ? size - top : MIN_BLOCK, &grown) == nullptr) return nullptr;
        return extend_last_region(grown);
    }
    return new_region(size);
}

// ---- trimming ---------------------------------------------------------------

// Gives part of the free top of the heap back to the OS: the free block at the
// top of the last region (found from the epilogue's PREV_USED and the footer
// below it), once it holds more than TRIM_THRESHOLD bytes. The break comes down
// by whole pages, leaving that block at least TOP_PAD bytes, and a new epilogue
// closes the region. Only while the break still ends the region: if someone
// else has moved it, lowering it would take their memory away.
void trim_break() {
    if (last_region == nullptr || prev_used(last_epilogue())) return;
    Block* top = prev_free_block(last_epilogue());
    std::size_t free_bytes = size_of(top);
    if (free_bytes <= TRIM_THRESHOLD) return;
    if (os::current_break() != region_end) return;
    std::size_t page = os::page_size();
    std::size_t release = (free_bytes - TOP_PAD) / page * page;
    if (!os::shrink_break(release)) return;
    region_end -= release;
    last_epilogue()->tag = USED;
    unlink_free(top);  // a smaller block: it may belong in a lower bin
    make_free(top, free_bytes - release);
    push_free(top);
}

// ---- resizing in place --------------------------------------------------------

// Shrinks a used block to `size` bytes; the tail it no longer needs becomes a
// free block, merged with a free block after it and given back to the OS if
// it ends the heap.
void shrink_block(Block* block, std::size_t size) {
    std::size_t old_size = size_of(block);
    split_block(block, size);
    if (size_of(block) == old_size) return;  // the tail was too small to stand alone
    unlink_free(next_block(block));          // coalesce() puts it back, merged
    coalesce(next_block(block));
    trim_break();
}

// Grows a used block to `size` bytes without moving it: into the free block
// right after it and, when that is not enough but the block (or the free
// block after it) ends the last region where the break is, by moving the
// break. False, with nothing changed, if neither works.
bool grow_in_place(Block* block, std::size_t size) {
    Block* next = next_block(block);
    bool next_free = !is_used(next);
    std::size_t room = size_of(block) + (next_free ? size_of(next) : 0);
    if (room < size) {
        Block* after = next_free ? next_block(next) : next;
        if (last_region == nullptr || after != last_epilogue() || os::current_break() != region_end) return false;
        if (!starts::cover(region_end, region_end + size - room + GROW_MIN)) return false;
        std::size_t grown = 0;
        if (grow_break_batch(size - room > MIN_BLOCK ? size - room : MIN_BLOCK, &grown) == nullptr) return false;
        next = extend_last_region(grown);  // merged with `next` if that was free
        next_free = true;
    }
    if (next_free) {
        starts::clear(payload_of(next));
        unlink_free(next);
        block->tag = (size_of(block) + size_of(next)) | (block->tag & FLAGS);
        next_block(block)->tag |= PREV_USED;
    }
    split_block(block, size);
    return true;
}

// ---- the break heap's entry -----------------------------------------------------

// A block of `size` bytes (block_size() of a request) on the break heap.
void* allocate_on_heap(std::size_t size) {
    Block* block = find_fit(size);
    if (block == nullptr) block = grow_heap(size);
    if (block == nullptr) return out_of_memory();
    unlink_free(block);
    split_block(block, size);
    mark_used(block);
    return payload_of(block);
}

// ---- the shared heap's entries ----------------------------------------------------
// A request above classes::SMALL_MAX, and a pointer that is not a small
// block. The caller holds the heap lock.

void* allocate_shared(std::size_t size) {
    if (size > MAX_REQUEST) return out_of_memory();
    if (size >= mapped::MMAP_THRESHOLD) {
        void* payload = mapped::create(size, ALIGNMENT);
        return payload != nullptr ? payload : out_of_memory();
    }
    return allocate_on_heap(block_size(size));
}

void release_shared(void* payload) {
    if (mapped::Mapping* m = mapped::find(payload)) {
        mapped::destroy(m);  // if the OS refuses, the block stays mapped and ours
        return;
    }
    Block* block = find_block(payload);
    if (block == nullptr) report("free", "invalid pointer", payload);
    if (!is_used(block)) report("free", "double free of", payload);
    free_block(block);
    trim_break();
}

}  // namespace


// ---- the API --------------------------------------------------------------------

void* allocate(std::size_t size) {
    if (size <= classes::SMALL_MAX) return pages::allocate(size);
    LockGuard guard;
    return allocate_shared(size);
}

namespace {

// free() of what pages::free_block() did not free. Out of line, so that a
// small block's free saves no registers for it.
[[gnu::noinline]] void release_not_small(void* payload, pages::Kind small) {
    if (small == pages::Kind::invalid) report("free", "invalid pointer", payload);
    if (small == pages::Kind::freed) report("free", "double free of", payload);
    int saved_errno = errno;  // free keeps errno, even when the OS refuses
    {
        LockGuard guard;
        release_shared(payload);
    }
    errno = saved_errno;
}

}  // namespace

void release(void* payload) {
    if (payload == nullptr) return;
    pages::Kind small = pages::free_block(payload);
    if (small != pages::Kind::live) release_not_small(payload, small);  // live: a small block, now freed
}

void* allocate_zeroed(std::size_t count, std::size_t size) {
    std::size_t bytes = 0;
    if (__builtin_mul_overflow(count, size, &bytes)) return out_of_memory();
    void* payload = allocate(bytes);
    if (payload == nullptr) return nullptr;
    // A fresh mapping is zeroed by the kernel, all of it. A block of the heap
    // is always cleared, and all of it: a reused block holds whatever its last
    // owner wrote, and malloc_usable_size tells the caller it may use every
    // byte of the block, not only the `bytes` it asked for.
    if (bytes <= classes::SMALL_MAX) {
        std::memset(payload, 0, classes::SIZES[classes::class_of(bytes)]);  // a reused small block is dirty too
    } else if (bytes < mapped::MMAP_THRESHOLD) {
        std::size_t n = 0;
        {
            LockGuard guard;  // the tag's flags change as the neighbours do
            n = capacity(header_of(payload));
        }
        std::memset(payload, 0, n);
    }
    return payload;
}

namespace {

// hrealloc of a small block: in place while it fits its class, else moved
// (to a larger class, or across the seam to the break heap or a mapping).
void* reallocate_small(void* payload, pages::Found small, std::size_t size) {
    if (small.kind == pages::Kind::invalid) report("realloc", "invalid pointer", payload);
    if (small.kind == pages::Kind::freed) report("realloc", "pointer to a free block", payload);
    if (size == 0) {
        if (!pages::release(payload, "realloc")) report("realloc", "pointer to a free block", payload);
        return nullptr;
    }
    if (size <= small.size) return payload;
    void* moved = allocate(size);
    if (moved == nullptr) return nullptr;  // allocate set errno; the old block is untouched
    std::memcpy(moved, payload, small.size);
    if (!pages::release(payload, "realloc")) report("realloc", "pointer to a free block", payload);
    return moved;
}

// hrealloc of a block of the shared heap: a mapped block is resized by
// mremap while it stays large; a block of the break heap shrinks or grows in
// place where it can. Under the heap lock. Otherwise it must move: returns
// null with `*keep` set to the bytes to copy (the caller moves it, with the
// lock let go, since the new block may be a small one). Null with `*keep`
// 0 when it is done (freed, or refused with errno set).
void* reallocate_shared(void* payload, std::size_t size, std::size_t* keep) {
    *keep = 0;
    if (mapped::Mapping* m = mapped::find(payload)) {
        if (size == 0) {
            mapped::destroy(m);
            return nullptr;
        }
        if (size > MAX_REQUEST) return out_of_memory();
        if (size >= mapped::MMAP_THRESHOLD) {
            void* moved = mapped::resize(m, size);
            return moved != nullptr ? moved : out_of_memory();
        }
        *keep = size;  // down to the break heap or a page
        return nullptr;
    }
    Block* block = find_block(payload);
    if (block == nullptr) report("realloc", "invalid pointer", payload);
    if (!is_used(block)) report("realloc", "pointer to a free block", payload);
    if (size == 0) {
        release_shared(payload);
        return nullptr;
    }
    if (size > MAX_REQUEST) return out_of_memory();
    std::size_t need = block_size(size);
    if (need <= size_of(block)) {
        shrink_block(block, need);
        return payload;
    }
    if (grow_in_place(block, need)) return payload;
    *keep = capacity(block);
    return nullptr;
}

}  // namespace

void* reallocate(void* payload, std::size_t size) {
    if (payload == nullptr) return allocate(size);
    pages::Found small = pages::find(payload);
    if (small.kind != pages::Kind::not_ours) return reallocate_small(payload, small, size);
    std::size_t keep = 0;
    {
        LockGuard guard;
        void* done = reallocate_shared(payload, size, &keep);
        if (keep == 0) return done;
    }
    // The block is still the caller's alone: no other thread may free or
    // resize it, so it can be copied with the lock let go.
    void* moved = allocate(size);
    if (moved == nullptr) return nullptr;  // allocate set errno; the old block is untouched
    std::memcpy(moved, payload, std::min(keep, size));
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
    if (size > MAX_REQUEST - alignment - MIN_BLOCK) return out_of_memory();
    LockGuard guard;
    std::size_t need = block_size(size);
    // Room for the block, for sliding it up to the next multiple of
    // `alignment`, and for a free block of its own in front of it.
    std::size_t padded = need + alignment + MIN_BLOCK;
    if (padded >= mapped::MMAP_THRESHOLD) {
        void* mapped_payload = mapped::create(size, alignment);
        return mapped_payload != nullptr ? mapped_payload : out_of_memory();
    }
    void* payload = allocate_on_heap(padded);
    if (payload == nullptr) return nullptr;
    Block* block = header_of(payload);
    auto at = reinterpret_cast<std::uintptr_t>(payload);
    if (at % alignment != 0) {
        //   | tag | front (freed) ...... | tag | aligned payload ...... |
        //   ^block                      ^aligned ^multiple of alignment
        std::uintptr_t aligned_at = align_up_to(at + MIN_BLOCK, alignment);
        Block* aligned = header_of(reinterpret_cast<void*>(aligned_at));
        auto front = static_cast<std::size_t>(reinterpret_cast<char*>(aligned) - reinterpret_cast<char*>(block));
        aligned->tag = (size_of(block) - front) | USED | PREV_USED;
        block->tag = front | (block->tag & FLAGS);
        starts::set(payload_of(aligned));
        free_block(block);  // clears `aligned`'s PREV_USED
        block = aligned;
    }
    shrink_block(block, need);
    return payload_of(block);
}

std::size_t usable_size(void* payload) {
    pages::Found small = pages::find(payload);
    if (small.kind == pages::Kind::live) return small.size;
    if (small.kind != pages::Kind::not_ours) report("malloc_usable_size", "invalid pointer", payload);
    LockGuard guard;
    if (mapped::Mapping* m = mapped::find(payload)) return mapped::usable(m);
    Block* block = find_block(payload);
    if (block == nullptr || !is_used(block)) report("malloc_usable_size", "invalid pointer", payload);
    return capacity(block);  // only for a block we handed out: report() does not return
}

// Every block of every region, in address order; the fenceposts are not blocks.
void walk(hm_visit_fn visit, void* ctx) {
    for (Block* r = first_region; r != nullptr; r = next_region(r)) {
        for (Block* b = first_block(r); !is_epilogue(b); b = next_block(b)) {
            hm_block_info info{b, HEADER, payload_of(b), capacity(b), !is_used(b)};
            visit(&info, ctx);
        }
    }
}

namespace {

// hwalk_mapped() visits the mapped blocks and the small blocks in one
// address order: before each mapped block, the small blocks below it.
struct MergedWalk {
    hm_visit_fn visit;
    void* ctx;
    const void* from;  // the small blocks below this address are visited
};

void visit_mapped(const hm_block_info* block, void* merged) {
    auto* m = static_cast<MergedWalk*>(merged);
    pages::walk(m->visit, m->ctx, m->from, block->header);
    m->visit(block, m->ctx);
    m->from = static_cast<const char*>(block->payload) + block->size;
}

}  // namespace

void walk_mapped(hm_visit_fn visit, void* ctx) {
    MergedWalk m{visit, ctx, nullptr};
    mapped::walk(visit_mapped, &m);
    pages::walk(visit, ctx, m.from, reinterpret_cast<const void*>(UINTPTR_MAX));
}

}  // namespace hm
