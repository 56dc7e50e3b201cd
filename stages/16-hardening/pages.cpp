// pages.cpp: small blocks in pages of one size class (pages.hpp), hardened.
// Journal: JOURNAL.md#stage-14, JOURNAL.md#stage-16
//
// A page that holds a class is on that class's list while it has room; a
// block comes from the page's own free list (the blocks freed there, the last
// freed first) or, while the page is new, from its untouched end (a bump
// pointer, so a page's memory is touched only as it is used). A page whose
// last block is freed goes to the list of empty pages, which any class takes
// from, unless it is its class's only page with room: then it stays, so a
// program that allocates and frees one block of a size over and over does
// not hand the page back and take it again each time. A segment whose pages
// are all empty is unmapped, except one, kept for the next request (so a
// program that frees and allocates around a segment's edge does not map and
// unmap a megabyte each time).
#include "pages.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "classes.hpp"
#include "heap.hpp"
#include "os.hpp"

namespace hm::pages {
namespace {

constexpr std::size_t PAGES = SEGMENT / PAGE;           // pages in a segment
constexpr std::size_t GRANULE = 16;                     // a block starts on a multiple of it
constexpr std::size_t GRANULES = PAGE / GRANULE;        // bits in a page's map of live blocks
constexpr std::uint16_t NO_CLASS = 0xffff;              // a page that never held a class
static_assert(SEGMENT % PAGE == 0 && PAGES <= 64);

// ---- the records ------------------------------------------------------------------

struct Page {
    Page* next;            // on its class's list of pages with room, or on the list of empty pages
    Page* prev;
    void* free;            // blocks freed in this page, linked through their first word (encoded: link())
    char* start;           // the first block
    std::uint32_t size;    // the class's block size
    std::uint32_t stride;  // from one block's start to the next: size, or size + GAP (HMALLOC_CHECK=full)
    std::uint64_t divides; // 2^64 / stride, rounded up: divisible() tells a block boundary without dividing
    std::uint16_t cls;     // the class, or NO_CLASS; an empty page keeps its last class
    std::uint16_t used;    // live blocks
    std::uint16_t capacity;  // blocks the page holds
    std::uint16_t bumped;    // blocks handed out from the start since the page took its class
    bool kept;               // empty, but kept on its class's list (not on the list of empty pages)
    // One bit per GRANULE bytes of the page, set where a live block starts.
    std::uint64_t live[GRANULES / 64];
};

struct Segment {
    std::size_t used_pages;  // pages that hold a live block
    Page pages[PAGES];
};

// The records take the start of the segment; page 0's blocks begin after them.
constexpr std::size_t META = (sizeof(Segment) + 4095) & ~std::size_t{4095};
static_assert(META + classes::SMALL_MAX <= PAGE, "page 0 holds at least one block of every class");

// ---- state --------------------------------------------------------------------

constinit Page* with_room[classes::COUNT] = {};  // per class: pages with a free block or an untouched end
constinit Page* empty = nullptr;                 // pages with no live block: any class takes them
constinit Segment* spare = nullptr;              // the one empty segment kept mapped
constinit char* last_mapped = nullptr;           // the segment mapped last (the next goes below it)

// ---- the table of segments ---------------------------------------------------------
//
// An open-addressed hash set of segment bases, in pages of its own, at most
// half full. Whether an address lies in one of our segments: clear its low
// bits, hash, and look at a slot or two. Only then is the segment's start read.

constinit std::uintptr_t* slots = nullptr;
constinit std::size_t slot_bits = 0;  // the table has 1 << slot_bits slots
constinit std::size_t segment_count = 0;

std::size_t slot_of(std::uintptr_t base) {
    return static_cast<std::size_t>(((base / SEGMENT) * 0x9e3779b97f4a7c15ull) >> (64 - slot_bits));
}
std::size_t slot_mask() { return (std::size_t{1} << slot_bits) - 1; }

bool is_segment(std::uintptr_t base) {
    if (slots == nullptr) return false;
    for (std::size_t i = slot_of(base);; i = (i + 1) & slot_mask()) {
        if (slots[i] == base) return true;
        if (slots[i] == 0) return false;
    }
}

void put(std::uintptr_t base) {
    std::size_t i = slot_of(base);
    while (slots[i] != 0) i = (i + 1) & slot_mask();
    slots[i] = base;
}

// Room for one more segment in the table; false if the OS refuses it pages.
bool reserve_slot() {
    if (slots != nullptr && (segment_count + 1) * 2 <= (std::size_t{1} << slot_bits)) return true;
    std::size_t bits = slots == nullptr ? 9 : slot_bits + 1;  // 512 slots: one page of 4 KiB
    std::size_t bytes = (std::size_t{1} << bits) * sizeof(std::uintptr_t);
    auto* grown = static_cast<std::uintptr_t*>(os::map(bytes));
    if (grown == nullptr) return false;
    std::uintptr_t* old = slots;
    std::size_t old_count = slots == nullptr ? 0 : std::size_t{1} << slot_bits;
    slots = grown;
    slot_bits = bits;
    for (std::size_t i = 0; i < old_count; ++i) {
        if (old[i] != 0) put(old[i]);
    }
    if (old != nullptr) os::unmap(old, old_count * sizeof(std::uintptr_t));  // if refused, a page stays mapped
    return true;
}

// Takes `base` out of the table, moving back the entries after it that
// would otherwise no longer be found (linear probing).
void forget(std::uintptr_t base) {
    std::size_t i = slot_of(base);
    while (slots[i] != base) i = (i + 1) & slot_mask();
    slots[i] = 0;
    for (std::size_t j = (i + 1) & slot_mask(); slots[j] != 0; j = (j + 1) & slot_mask()) {
        std::size_t home = slot_of(slots[j]);
        // slots[j] stays unless its home lies cyclically outside (i, j].
        bool stays = i < j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            slots[i] = slots[j];
            slots[j] = 0;
            i = j;
        }
    }
    --segment_count;
}

// ---- lists ----------------------------------------------------------------------

void push(Page*& head, Page* p) {
    p->prev = nullptr;
    p->next = head;
    if (head != nullptr) head->prev = p;
    head = p;
}

void unlink(Page*& head, Page* p) {
    if (p->prev != nullptr) {
        p->prev->next = p->next;
    } else {
        head = p->next;
    }
    if (p->next != nullptr) p->next->prev = p->prev;
}

// ---- addresses ------------------------------------------------------------------

Segment* segment_at(const void* address) {
    return reinterpret_cast<Segment*>(reinterpret_cast<std::uintptr_t>(address) & ~(SEGMENT - 1));
}
std::size_t page_index(const void* address) {
    return (reinterpret_cast<std::uintptr_t>(address) & (SEGMENT - 1)) / PAGE;
}
// The bit of an address in its page's map.
std::size_t granule(const void* address) {
    return (reinterpret_cast<std::uintptr_t>(address) & (PAGE - 1)) / GRANULE;
}
bool is_live(const Page* p, std::size_t g) { return (p->live[g / 64] >> (g % 64) & 1) != 0; }

// ---- hardening --------------------------------------------------------------------
//
// A freed block's first word links it to the next free block of its page.
// A program that writes to a block after freeing it, or past the end of the
// block before it, overwrites that word, and an allocator that trusts it
// hands out whatever address it now holds. So the word is stored encoded
// (link(): the next block's address XOR the secret XOR the block's own
// address shifted right by 12, as glibc's safe-linking does, with a random
// secret on top), and every link decoded is checked before it is followed:
// null (the end of the list) or a block boundary of the same page that has
// been handed out and is not live. A link that fails is reported, never
// followed. The checks cost a few instructions per call; the costly ones
// (every freed byte, and a canary after every block) wait for the option.
//
// With HMALLOC_CHECK=full in the environment (read once, when the first page
// takes a class, before any small block exists), a page's blocks lie GAP
// bytes apart, and the first word of each gap holds a canary (the secret
// XOR the block's address), written when the block is first handed out. A
// block's canary and the one of the block before it are checked when it is
// freed and when it is handed out again, so a write past a block's end is
// caught at the next operation on either block. A freed block is filled
// past its link with FILL, checked when it is handed out again.
//
//   HMALLOC_CHECK=full:  | block 0 (size) | canary, 8 | block 1 (size) | canary, 8 | ...
//                        ^start           <-- GAP --->^start + stride

constexpr std::size_t GAP = 16;          // keeps every block aligned to 16
constexpr unsigned char FILL = 0xdf;     // a freed block's bytes past its link, with the option
constexpr std::uint32_t CHECK_FULL = 1;  // the option's bit in `checks`

constinit std::uintptr_t secret = 0;
constinit std::atomic<std::uint32_t> checks{0};  // CHECK_FULL, once read_options() has run
constinit std::atomic<bool> options_read{false};

// The secret from the kernel's random bytes (getrandom never allocates);
// if that is refused, from the random bytes the kernel gave the process at
// exec (AT_RANDOM) mixed with where the library was loaded.
std::uintptr_t make_secret() {
    std::uintptr_t s = 0;
    if (os::random_bytes(&s, sizeof s) && s != 0) return s;
    s = os::exec_random() ^ reinterpret_cast<std::uintptr_t>(&secret);
    s = (s ^ (s >> 31)) * 0x9e3779b97f4a7c15ull;  // mixed, so the kernel's bytes are not handed out as they are
    return s ^ (s >> 29);
}

// Reads HMALLOC_CHECK and makes the secret, the first time a page takes a
// class. getenv only reads the environment: it allocates nothing.
void read_options() {
    if (options_read.load(std::memory_order_acquire)) return;
    secret = make_secret();
    const char* check = std::getenv("HMALLOC_CHECK");
    checks.store(check != nullptr && std::strcmp(check, "full") == 0 ? CHECK_FULL : 0, std::memory_order_relaxed);
    options_read.store(true, std::memory_order_release);
}

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// The word a freed block at `at` stores for the next free block `next`; the
// same function decodes it.
std::uintptr_t link(std::uintptr_t next, const void* at) { return next ^ secret ^ (address(at) >> 12); }

// A link may lead only to a block of the same page that was handed out
// (below the untouched end, on a block boundary: `divides` turns "offset is
// a multiple of the stride" into a multiplication, for offsets below 2^32)
// and is not live.
bool divisible(const Page* p, std::size_t offset) {
    return static_cast<std::uint64_t>(offset) * p->divides < p->divides;
}
bool is_free_block(const Page* p, std::uintptr_t at) {
    std::size_t offset = at - address(p->start);  // wraps to a huge value below start
    return offset < std::size_t{p->bumped} * p->stride && divisible(p, offset) && !is_live(p, granule(reinterpret_cast<void*>(at)));
}

[[noreturn, gnu::noinline, gnu::cold]] void corrupted(const void* block) {
    report("malloc", "corrupted free list: the link was overwritten in the freed block", block);
}

// ---- the option's checks (HMALLOC_CHECK=full) --------------------------------------------

bool is_full(const Page* p) { return p->stride != p->size; }
std::uintptr_t& canary_of(char* block, const Page* p) { return *reinterpret_cast<std::uintptr_t*>(block + p->size); }
std::uintptr_t canary_for(const char* block) { return secret ^ address(block); }

// The canaries after `block` and after the block before it (if any) are intact.
[[gnu::noinline]] void check_canaries(const char* call, char* block, const Page* p) {
    if (canary_of(block, p) != canary_for(block)) report(call, "heap overflow past the end of the block", block);
    if (block == p->start) return;
    char* before = block - p->stride;
    if (canary_of(before, p) != canary_for(before)) report(call, "heap overflow past the end of the block", before);
}

// A freed block, with the option: filled past its link.
[[gnu::noinline]] void fill_freed(char* block, const Page* p) {
    std::memset(block + sizeof(std::uintptr_t), FILL, p->size - sizeof(std::uintptr_t));
}

// A block about to be handed out again, with the option: its fill and the canaries.
[[gnu::noinline]] void check_reused(char* block, const Page* p) {
    for (std::size_t i = sizeof(std::uintptr_t); i < p->size; ++i) {
        if (static_cast<unsigned char>(block[i]) != FILL) report("malloc", "write after free to the freed block", block);
    }
    check_canaries("malloc", block, p);
}

// ---- segments -------------------------------------------------------------------

bool is_aligned(const char* p) { return (reinterpret_cast<std::uintptr_t>(p) & (SEGMENT - 1)) == 0; }

// SEGMENT bytes aligned to SEGMENT; null if the OS refuses. The kernel
// places mappings top down, so the segment's worth just below the last
// segment mapped is likely free: that address is asked for first (a hint the
// kernel may ignore). Otherwise, and for the first segment, twice the size
// is mapped and what lies outside the aligned segment inside it is given
// back (it holds twice the segment for a moment, which is why it comes last).
char* map_segment() {
    if (last_mapped != nullptr) {
        auto* near = static_cast<char*>(os::map_at(last_mapped - SEGMENT, SEGMENT));
        if (near != nullptr && is_aligned(near)) return near;
        if (near != nullptr) os::unmap(near, SEGMENT);  // our own whole mapping: the kernel does not refuse it
    }
    auto* raw = static_cast<char*>(os::map(2 * SEGMENT));
    if (raw == nullptr) return nullptr;
    auto* base = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(raw) + SEGMENT - 1) & ~(SEGMENT - 1));
    std::size_t head = static_cast<std::size_t>(base - raw);
    std::size_t tail = SEGMENT - head;
    if ((head != 0 && !os::unmap(raw, head)) || (tail != 0 && !os::unmap(base + SEGMENT, tail))) {
        os::unmap(raw, 2 * SEGMENT);  // give back whatever is left: nothing has changed
        return nullptr;
    }
    return base;
}

// A new segment, its pages on the empty list; false if the OS refuses.
bool add_segment() {
    if (!reserve_slot()) return false;
    char* base = map_segment();
    if (base == nullptr) return false;
    last_mapped = base;
    auto* s = reinterpret_cast<Segment*>(base);  // fresh pages: zeroed, so every bit is clear
    s->used_pages = 0;
    for (std::size_t i = PAGES; i-- > 0;) {
        Page* p = &s->pages[i];
        p->cls = NO_CLASS;
        p->start = base + (i == 0 ? META : i * PAGE);
        push(empty, p);
    }
    put(reinterpret_cast<std::uintptr_t>(base));
    ++segment_count;
    return true;
}

// Gives a segment whose pages are all empty back to the OS; if the OS
// refuses, it stays as it was, still ours.
void drop_segment(Segment* s) {
    for (Page& p : s->pages) unlink(p.kept ? with_room[p.cls] : empty, &p);
    if (!os::unmap(s, SEGMENT)) {
        for (Page& p : s->pages) push(p.kept ? with_room[p.cls] : empty, &p);
        return;
    }
    forget(reinterpret_cast<std::uintptr_t>(s));
}

// ---- pages ----------------------------------------------------------------------

// The slow paths below are kept out of line, so that allocate() and
// release() need no registers saved on their way in and out.
#define HM_SLOW_PATH [[gnu::noinline, gnu::cold]]

// An empty page, given class `c` and put on its list; null if the OS refuses.
HM_SLOW_PATH Page* take_page(std::size_t c) {
    if (empty == nullptr && !add_segment()) return nullptr;
    Page* p = empty;
    unlink(empty, p);
    Segment* s = segment_at(p);
    auto size = static_cast<std::uint32_t>(classes::SIZES[c]);
    char* end = reinterpret_cast<char*>(s) + (page_index(p->start) + 1) * PAGE;
    read_options();
    std::uint32_t stride = size + ((checks.load(std::memory_order_relaxed) & CHECK_FULL) != 0 ? GAP : 0);
    p->cls = static_cast<std::uint16_t>(c);
    p->size = size;
    p->stride = stride;
    p->divides = UINT64_MAX / stride + 1;
    p->capacity = static_cast<std::uint16_t>(static_cast<std::size_t>(end - p->start) / stride);
    p->bumped = 0;
    p->used = 0;
    p->free = nullptr;
    push(with_room[c], p);
    return p;
}

// `p` is about to hand out its first live block: its segment is in use.
HM_SLOW_PATH void page_in_use(Page* p) {
    Segment* s = segment_at(p);
    if (s->used_pages++ == 0 && s == spare) spare = nullptr;
    p->kept = false;
}

// `p`'s last block has just been freed: any class may take the page now,
// unless it is its class's only page with room, which stays for the class's
// next request. A segment with no page in use is kept if it is the only
// one; otherwise it goes back to the OS.
HM_SLOW_PATH void page_emptied(Page* p) {
    if (with_room[p->cls] == p && p->next == nullptr) {
        p->kept = true;
    } else {
        unlink(with_room[p->cls], p);
        push(empty, p);
    }
    Segment* s = segment_at(p);
    if (--s->used_pages != 0) return;
    if (spare == nullptr) {
        spare = s;
    } else {
        drop_segment(s);
    }
}

// `p` has just handed out its last block: it leaves its class's list.
HM_SLOW_PATH void page_full(Page* p) { unlink(with_room[p->cls], p); }

// `p` was full and has a free block again: back on its class's list.
HM_SLOW_PATH void page_has_room(Page* p) { push(with_room[p->cls], p); }

}  // namespace

// ---- the entries ------------------------------------------------------------------

Found find(const void* payload) {
    Segment* s = segment_at(payload);
    if (!is_segment(reinterpret_cast<std::uintptr_t>(s))) return Found{Kind::not_ours, 0};
    Page* p = &s->pages[page_index(payload)];
    std::size_t g = granule(payload);
    if (reinterpret_cast<std::uintptr_t>(payload) % GRANULE == 0 && is_live(p, g)) return Found{Kind::live, p->size};
    // Not live: a freed block, or no block at all (the records, a page that
    // never held a class, the middle of a block, past the blocks handed out).
    auto at = static_cast<const char*>(payload);
    if (p->cls == NO_CLASS || at < p->start) return Found{Kind::invalid, 0};
    std::size_t offset = static_cast<std::size_t>(at - p->start);
    if (offset % p->stride != 0 || offset / p->stride >= p->bumped) return Found{Kind::invalid, 0};
    return Found{Kind::freed, 0};
}

void* allocate(std::size_t size) {
    std::size_t c = classes::class_of(size);
    Page* p = with_room[c];
    if (p == nullptr && (p = take_page(c)) == nullptr) return nullptr;
    char* block;
    if (p->free != nullptr) {
        block = static_cast<char*>(p->free);
        std::uintptr_t next = link(*reinterpret_cast<std::uintptr_t*>(block), block);
        if (next != 0 && !is_free_block(p, next)) corrupted(block);
        if (is_full(p)) check_reused(block, p);
        p->free = reinterpret_cast<void*>(next);
    } else {
        block = p->start + std::size_t{p->bumped} * p->stride;
        ++p->bumped;
        if (is_full(p)) canary_of(block, p) = canary_for(block);
    }
    if (p->used++ == 0) page_in_use(p);
    if (p->free == nullptr && p->bumped == p->capacity) page_full(p);
    std::size_t g = granule(block);
    p->live[g / 64] |= std::uint64_t{1} << (g % 64);
    return block;
}

void release(void* payload, const char* call) {
    Page* p = &segment_at(payload)->pages[page_index(payload)];
    if (is_full(p)) {
        check_canaries(call, static_cast<char*>(payload), p);
        fill_freed(static_cast<char*>(payload), p);
    }
    std::size_t g = granule(payload);
    p->live[g / 64] &= ~(std::uint64_t{1} << (g % 64));
    bool was_full = p->free == nullptr && p->bumped == p->capacity;
    *static_cast<std::uintptr_t*>(payload) = link(address(p->free), payload);
    p->free = payload;
    if (was_full) page_has_room(p);
    if (--p->used == 0) page_emptied(p);
}

void walk(hm_visit_fn visit, void* ctx, const void* from, const void* to) {
    if (slots == nullptr) return;
    auto lo = reinterpret_cast<std::uintptr_t>(from);
    auto hi = reinterpret_cast<std::uintptr_t>(to);
    std::size_t slot_count = std::size_t{1} << slot_bits;
    // The segments in address order: each time, the lowest one not yet visited.
    for (std::uintptr_t last = 0;;) {
        std::uintptr_t next = 0;
        for (std::size_t i = 0; i < slot_count; ++i) {
            if (slots[i] > last && (next == 0 || slots[i] < next)) next = slots[i];
        }
        if (next == 0) return;
        last = next;
        if (next + SEGMENT <= lo || next >= hi) continue;
        auto* s = reinterpret_cast<Segment*>(next);
        for (Page& p : s->pages) {
            if (p.used == 0) continue;
            for (std::size_t k = 0; k < p.bumped; ++k) {
                char* block = p.start + k * p.stride;
                auto at = reinterpret_cast<std::uintptr_t>(block);
                if (at < lo || at >= hi || !is_live(&p, granule(block))) continue;
                hm_block_info info{block, 0, block, p.size, 0};
                visit(&info, ctx);
            }
        }
    }
}

}  // namespace hm::pages
