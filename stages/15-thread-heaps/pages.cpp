// pages.cpp: small blocks in pages of one size class, a heap of them per
// thread (pages.hpp).
// Journal: JOURNAL.md#stage-15
//
// A page that holds a class belongs to one thread's heap, and is on that
// heap's list for the class while it has room; a
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
//
// Who may touch what (stage 15):
//  - A heap's lists and its pages' records (free list, counts, bump pointer)
//    belong to the heap's thread: it reads and writes them with no lock.
//  - A block's live bit is its owner's: set when it hands the block out,
//    cleared when it has the block back, with plain stores (atomic, but no
//    locked instruction: there is one writer). Other threads only read it.
//  - A block's remote bit is set by the thread that frees it into another
//    thread's heap, with one locked instruction whose old value says whether
//    another free was there first, and cleared by the owner when it takes the
//    block back. A block is live when its live bit is set and its remote bit
//    is not.
//  - A heap's list of remote frees is an atomic stack: other threads push,
//    the owner takes the whole stack at once.
//  - The empty pages, the segments and the heaps of exited threads are
//    shared by every heap: the heap lock (lock.hpp) guards them. A thread
//    takes it only to get a page or give one back, or to free a block of a
//    heap whose thread has exited; never for a block of a live thread's heap.
#include "pages.hpp"

#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "classes.hpp"
#include "lock.hpp"
#include "os.hpp"

namespace hm::pages {
namespace {

constexpr std::size_t PAGES = SEGMENT / PAGE;           // pages in a segment
constexpr std::size_t GRANULE = 16;                     // a block starts on a multiple of it
constexpr std::size_t GRANULES = SEGMENT / GRANULE;     // bits in a segment's maps of live and remote blocks
constexpr std::uint16_t NO_CLASS = 0xffff;              // a page that never held a class
static_assert(SEGMENT % PAGE == 0 && PAGES <= 64);

// ---- the records ------------------------------------------------------------------

struct Heap;

struct Page {
    Page* next;            // on its heap's list of pages with room for its class, or on the list of empty pages
    Page* prev;
    void* free;            // blocks freed in this page, linked through their first word
    char* start;           // the first block
    Heap* owner;           // the heap the page belongs to; null while it is empty and shared
    std::uint32_t size;    // the class's block size
    std::uint16_t cls;     // the class, or NO_CLASS; an empty page keeps its last class
    std::uint16_t used;    // blocks handed out and not yet back in the page (a remote free is back once drained)
    std::uint16_t capacity;  // blocks the page holds
    std::uint16_t bumped;    // blocks handed out from the start since the page took its class
};

struct Segment {
    Segment* next;           // every segment we have, in the order they were mapped
    std::size_t used_pages;  // pages that belong to a heap (not on the list of empty pages)
    Page pages[PAGES];
    // One bit per GRANULE bytes of the segment in each map. live: set where
    // a block its owner handed out starts, until the owner has it back.
    // remote: set where such a block was freed by another thread, until then.
    std::atomic<std::uint64_t> live[GRANULES / 64];
    std::atomic<std::uint64_t> remote[GRANULES / 64];
};

// A thread's heap. Its thread alone reads and writes `with_room` and the
// records of its pages; other threads only push onto `remote`. When its
// thread exits, the heap is abandoned (its empty pages go back, the rest
// stay) and then guarded by the heap lock, until a new thread adopts it.
struct alignas(64) Heap {  // a cache line of its own at least: two threads' heaps never share one
    Page* with_room[classes::COUNT];   // per class: pages with a free block or an untouched end
    std::atomic<void*> remote;         // blocks other threads freed here, linked through their first word
    std::atomic<bool> abandoned;       // its thread has exited
    Heap* next_abandoned;              // on the list of abandoned heaps
};

// The records take the start of the segment; page 0's blocks begin after them.
constexpr std::size_t META = (sizeof(Segment) + 4095) & ~std::size_t{4095};
static_assert(META + classes::SMALL_MAX <= PAGE, "page 0 holds at least one block of every class");

// ---- state --------------------------------------------------------------------

// The calling thread's heap: null until its first small block.
constinit thread_local Heap* my_heap __attribute__((tls_model("initial-exec"))) = nullptr;

// Shared by every heap, under the heap lock:
constinit Page* empty = nullptr;                 // pages with no live block and no heap: any class takes them
constinit Segment* spare = nullptr;              // the one empty segment kept mapped
constinit char* last_mapped = nullptr;           // the segment mapped last (the next goes below it)
constinit Segment* segments = nullptr;           // every segment we have
constinit Heap* abandoned_heaps = nullptr;       // heaps whose thread has exited, waiting to be adopted
constinit Heap* heap_chunk_next = nullptr;       // heaps are carved from a mapping, one after the other...
constinit Heap* heap_chunk_end = nullptr;        // ... up to here
constinit pthread_key_t exit_key{};              // its destructor abandons an exiting thread's heap
constinit bool exit_key_made = false;

// ---- the map of segments ---------------------------------------------------------
//
// One bit for every SEGMENT bytes of the address space below ADDRESS_LIMIT,
// set while a segment of ours is mapped there. Threads read it with no lock,
// so it never moves and never grows: it is a zeroed array in the library's
// own memory (.bss, 16 MiB of address space, of which only the pages that
// hold a set bit are ever touched). Whether an address lies in one of our
// segments: clear its low bits, and test one bit.

constexpr std::uintptr_t ADDRESS_LIMIT = std::uintptr_t{1} << 47;  // x86-64's user space, 4-level paging
constexpr std::size_t MAP_WORDS = ADDRESS_LIMIT / SEGMENT / 64;
// Plain words, used through std::atomic_ref (an array of two million
// std::atomic would be too many constructors for clang to run at compile time).
constinit std::uint64_t segment_map[MAP_WORDS] = {};
std::atomic_ref<std::uint64_t> map_word(std::size_t bit) { return std::atomic_ref<std::uint64_t>(segment_map[bit / 64]); }

bool is_segment(std::uintptr_t base) {
    if (base >= ADDRESS_LIMIT) return false;
    std::size_t bit = base / SEGMENT;
    return (map_word(bit).load(std::memory_order_acquire) >> (bit % 64) & 1) != 0;
}
void mark_segment(std::uintptr_t base) {
    std::size_t bit = base / SEGMENT;
    map_word(bit).fetch_or(std::uint64_t{1} << (bit % 64), std::memory_order_release);
}
void unmark_segment(std::uintptr_t base) {
    std::size_t bit = base / SEGMENT;
    map_word(bit).fetch_and(~(std::uint64_t{1} << (bit % 64)), std::memory_order_relaxed);
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
// The bit of an address in its segment's maps: word g / 64, bit g % 64.
std::size_t granule(const void* address) {
    return (reinterpret_cast<std::uintptr_t>(address) & (SEGMENT - 1)) / GRANULE;
}
std::uint64_t bit_of(std::size_t g) { return std::uint64_t{1} << (g % 64); }
bool is_live(const Segment* s, std::size_t g) {
    return (s->live[g / 64].load(std::memory_order_relaxed) & ~s->remote[g / 64].load(std::memory_order_relaxed) &
            bit_of(g)) != 0;
}
// The owner's writes to the live map: one writer, so a load and a store.
void set_live(Segment* s, std::size_t g) {
    s->live[g / 64].store(s->live[g / 64].load(std::memory_order_relaxed) | bit_of(g), std::memory_order_relaxed);
}
void clear_live(Segment* s, std::size_t g) {
    s->live[g / 64].store(s->live[g / 64].load(std::memory_order_relaxed) & ~bit_of(g), std::memory_order_relaxed);
}
Page* page_of(const void* payload) { return &segment_at(payload)->pages[page_index(payload)]; }

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

// A new segment, its pages on the empty list; false if the OS refuses (or
// puts it where the map of segments does not reach).
bool add_segment() {
    char* base = map_segment();
    if (base == nullptr) return false;
    if (reinterpret_cast<std::uintptr_t>(base) >= ADDRESS_LIMIT) {
        os::unmap(base, SEGMENT);
        return false;
    }
    last_mapped = base;
    auto* s = reinterpret_cast<Segment*>(base);  // fresh pages: zeroed, so every bit is clear
    s->used_pages = 0;
    for (std::size_t i = PAGES; i-- > 0;) {
        Page* p = &s->pages[i];
        p->cls = NO_CLASS;
        p->start = base + (i == 0 ? META : i * PAGE);
        push(empty, p);
    }
    s->next = segments;
    segments = s;
    mark_segment(reinterpret_cast<std::uintptr_t>(base));
    return true;
}

// Gives a segment whose pages are all empty back to the OS; if the OS
// refuses, it stays as it was, still ours.
void drop_segment(Segment* s) {
    int saved_errno = errno;  // free keeps errno, even when the OS refuses
    unmark_segment(reinterpret_cast<std::uintptr_t>(s));
    for (Page& p : s->pages) unlink(empty, &p);
    Segment** link = &segments;
    while (*link != s) link = &(*link)->next;
    *link = s->next;
    if (!os::unmap(s, SEGMENT)) {
        for (Page& p : s->pages) push(empty, &p);
        s->next = segments;
        segments = s;
        mark_segment(reinterpret_cast<std::uintptr_t>(s));
    }
    errno = saved_errno;
}

// ---- pages ----------------------------------------------------------------------

// The slow paths below are kept out of line, so that allocate() and
// release() need no registers saved on their way in and out.
#define HM_SLOW_PATH [[gnu::noinline, gnu::cold]]

// An empty page, given class `c` and put on heap `h`'s list for it; null if
// the OS refuses. The caller holds the heap lock.
Page* take_page(Heap* h, std::size_t c) {
    if (empty == nullptr && !add_segment()) return nullptr;
    Page* p = empty;
    unlink(empty, p);
    Segment* s = segment_at(p);
    if (s->used_pages++ == 0 && s == spare) spare = nullptr;
    auto size = static_cast<std::uint32_t>(classes::SIZES[c]);
    char* end = reinterpret_cast<char*>(s) + (page_index(p->start) + 1) * PAGE;
    p->owner = h;
    p->cls = static_cast<std::uint16_t>(c);
    p->size = size;
    p->capacity = static_cast<std::uint16_t>(static_cast<std::size_t>(end - p->start) / size);
    p->bumped = 0;
    p->used = 0;
    p->free = nullptr;
    push(h->with_room[c], p);
    return p;
}

// Gives an empty page (on no list now) back to the empty pages, which any
// heap takes from. A segment with no page left in a heap is kept if it is
// the only one; otherwise it goes back to the OS. The caller holds the heap lock.
void give_back(Page* p) {
    p->owner = nullptr;
    push(empty, p);
    Segment* s = segment_at(p);
    if (--s->used_pages != 0) return;
    if (spare == nullptr) {
        spare = s;
    } else {
        drop_segment(s);
    }
}

// `p`'s last block has just come back: any heap may take the page now,
// unless it is its class's only page with room in a live heap, which stays
// for the class's next request (with no lock: it stays the heap's). An
// abandoned heap keeps nothing; whoever works on it holds the heap lock already.
HM_SLOW_PATH void page_emptied(Heap* h, Page* p) {
    bool is_abandoned = h->abandoned.load(std::memory_order_relaxed);
    if (!is_abandoned && h->with_room[p->cls] == p && p->next == nullptr) return;
    unlink(h->with_room[p->cls], p);
    if (is_abandoned) {
        give_back(p);
        return;
    }
    LockGuard guard;
    give_back(p);
}

// `p` has just handed out its last block: it leaves its class's list.
HM_SLOW_PATH void page_full(Heap* h, Page* p) { unlink(h->with_room[p->cls], p); }

// `p` was full and has a free block again: back on its class's list.
HM_SLOW_PATH void page_has_room(Heap* h, Page* p) { push(h->with_room[p->cls], p); }

// A block of `p` (a page of heap `h`) is back, its live and remote bits
// already clear: onto the page's free list. Only `h`'s thread calls this,
// or, for an abandoned heap, a thread that holds the heap lock.
[[gnu::always_inline]] inline void put_back(Heap* h, Page* p, void* block) {
    bool was_full = p->free == nullptr && p->bumped == p->capacity;
    *static_cast<void**>(block) = p->free;
    p->free = block;
    if (was_full) page_has_room(h, p);
    if (--p->used == 0) page_emptied(h, p);
}

// ---- the heaps --------------------------------------------------------------------

// Takes every block other threads have freed into `h` so far and puts each
// back in its page (the owner's business, or, for an abandoned heap, that
// of a thread that holds the heap lock).
void drain_remote(Heap* h) {
    void* block = h->remote.exchange(nullptr, std::memory_order_acquire);
    while (block != nullptr) {
        void* next = *static_cast<void**>(block);
        Segment* s = segment_at(block);
        std::size_t g = granule(block);
        // Live bit first: a second free of the block, racing with this,
        // sees it freed whichever bit it reads.
        clear_live(s, g);
        s->remote[g / 64].fetch_and(~bit_of(g), std::memory_order_release);
        put_back(h, page_of(block), block);
        block = next;
    }
}

// The destructor of exit_key: the thread of `heap` is exiting. Its heap is
// abandoned: the blocks freed into it so far are put back, its empty pages
// go back to be shared, and it waits, under the heap lock, for a new thread
// to adopt it. Its blocks still live may be freed by any thread meanwhile.
void abandon(void* heap) {
    auto* h = static_cast<Heap*>(heap);
    LockGuard guard;
    h->abandoned.store(true, std::memory_order_release);
    drain_remote(h);
    for (std::size_t c = 0; c < classes::COUNT; ++c) {
        for (Page* p = h->with_room[c]; p != nullptr;) {
            Page* next = p->next;
            if (p->used == 0) {
                unlink(h->with_room[c], p);
                give_back(p);
            }
            p = next;
        }
    }
    h->next_abandoned = abandoned_heaps;
    abandoned_heaps = h;
    my_heap = nullptr;  // a later call on this thread (another key's destructor) gets a heap anew
}

// A heap for the calling thread: an abandoned one if there is one (with
// every page it still has), else a new one; null if the OS refuses memory.
// The heap lock is held only while the heap is chosen; the exit key is set
// after it is let go, because pthread_setspecific may call malloc (which now
// finds the heap).
HM_SLOW_PATH Heap* make_heap() {
    Heap* h = nullptr;
    {
        LockGuard guard;
        if (!exit_key_made) exit_key_made = pthread_key_create(&exit_key, abandon) == 0;
        if (abandoned_heaps != nullptr) {
            h = abandoned_heaps;
            abandoned_heaps = h->next_abandoned;
            drain_remote(h);  // still abandoned: a page it empties goes back, under the lock we hold
            h->abandoned.store(false, std::memory_order_release);
        } else {
            if (heap_chunk_next == heap_chunk_end) {
                constexpr std::size_t CHUNK = std::size_t{64} << 10;
                auto* chunk = static_cast<Heap*>(os::map(CHUNK));  // zeroed: empty lists, nothing remote
                if (chunk == nullptr) return nullptr;
                heap_chunk_next = chunk;
                heap_chunk_end = chunk + CHUNK / sizeof(Heap);
            }
            h = heap_chunk_next++;
        }
    }
    my_heap = h;
    // Without the key (none left), the heap is never abandoned: it stays
    // with its thread's blocks, and its frees from others stay queued.
    if (exit_key_made) pthread_setspecific(exit_key, h);
    return h;
}

// `h` has no page with room for class `c`: the blocks other threads have
// freed into it come back first, and if none of them is of class `c`, it
// takes an empty page. Null, with errno ENOMEM, if the OS refuses.
HM_SLOW_PATH Page* refill(Heap* h, std::size_t c) {
    drain_remote(h);
    if (h->with_room[c] != nullptr) return h->with_room[c];
    LockGuard guard;
    Page* p = take_page(h, c);
    if (p == nullptr) errno = ENOMEM;
    return p;
}

HM_SLOW_PATH void* no_heap() {
    errno = ENOMEM;
    return nullptr;
}

// A block of heap `h` freed by a thread that does not own it: its remote
// bit is set. If the block was live, onto h's list of remote frees, which
// its owner drains; if h's thread has exited, no one will, so the block is
// put back at once, under the heap lock that guards abandoned heaps (blocks
// pushed while its thread was exiting come back then too, or when the heap
// is adopted). False, with the bit as it was, if the block was not live.
// Out of line: a free of one's own block then saves no registers for it.
[[gnu::noinline]] bool free_remote(Heap* h, Segment* s, std::size_t g, void* block) {
    // The locked instruction decides which of two frees racing in other
    // threads is first; the owner's live bit says whether the block was live.
    if ((s->remote[g / 64].fetch_or(bit_of(g), std::memory_order_acq_rel) & bit_of(g)) != 0) return false;
    if ((s->live[g / 64].load(std::memory_order_relaxed) & bit_of(g)) == 0) {
        s->remote[g / 64].fetch_and(~bit_of(g), std::memory_order_relaxed);
        return false;
    }
    // The block counts in its page's `used` until its owner has it back, so
    // the page cannot change hands under us: `h` holds still.
    if (h->abandoned.load(std::memory_order_acquire)) {
        LockGuard guard;
        if (h->abandoned.load(std::memory_order_relaxed)) {
            drain_remote(h);
            clear_live(s, g);
            s->remote[g / 64].fetch_and(~bit_of(g), std::memory_order_release);
            put_back(h, page_of(block), block);
            return true;
        }
    }
    void* head = h->remote.load(std::memory_order_relaxed);
    do {
        *static_cast<void**>(block) = head;
    } while (!h->remote.compare_exchange_weak(head, block, std::memory_order_release, std::memory_order_relaxed));
    return true;
}

// A small block's free, once the pointer is known to start a granule of a
// segment of ours: if the block is live, frees it and returns true. Its own
// block, a thread frees with no locked instruction: the live bit is its own
// to read and clear. Inline in both free_block() and release().
[[gnu::always_inline]] inline bool free_if_live(void* payload) {
    Segment* s = segment_at(payload);
    Page* p = &s->pages[page_index(payload)];
    std::size_t g = granule(payload);
    Heap* h = p->owner;
    if (h != my_heap) return free_remote(h, s, g, payload);
    std::uint64_t live = s->live[g / 64].load(std::memory_order_relaxed);
    // Not live, or freed by another thread and not yet taken back: a double free.
    if ((live & ~s->remote[g / 64].load(std::memory_order_relaxed) & bit_of(g)) == 0) return false;
    s->live[g / 64].store(live & ~bit_of(g), std::memory_order_relaxed);
    put_back(h, p, payload);
    return true;
}

}  // namespace

// ---- the entries ------------------------------------------------------------------

Found find(const void* payload) {
    Segment* s = segment_at(payload);
    if (!is_segment(reinterpret_cast<std::uintptr_t>(s))) return Found{Kind::not_ours, 0};
    Page* p = &s->pages[page_index(payload)];
    std::size_t g = granule(payload);
    if (reinterpret_cast<std::uintptr_t>(payload) % GRANULE == 0 && is_live(s, g)) return Found{Kind::live, p->size};
    // Not live: a freed block, or no block at all (the records, a page that
    // never held a class, the middle of a block, past the blocks handed out).
    // The page may be another thread's, changing as we read: this only
    // chooses the words of the message.
    auto at = static_cast<const char*>(payload);
    if (p->cls == NO_CLASS || at < p->start) return Found{Kind::invalid, 0};
    std::size_t offset = static_cast<std::size_t>(at - p->start);
    if (offset % p->size != 0 || offset / p->size >= p->bumped) return Found{Kind::invalid, 0};
    return Found{Kind::freed, 0};
}

void* allocate(std::size_t size) {
    Heap* h = my_heap;
    if (h == nullptr && (h = make_heap()) == nullptr) return no_heap();
    std::size_t c = classes::class_of(size);
    Page* p = h->with_room[c];
    if (p == nullptr && (p = refill(h, c)) == nullptr) return nullptr;
    char* block;
    if (p->free != nullptr) {
        block = static_cast<char*>(p->free);
        p->free = *static_cast<void**>(p->free);
    } else {
        block = p->start + std::size_t{p->bumped} * p->size;
        ++p->bumped;
    }
    ++p->used;
    if (p->free == nullptr && p->bumped == p->capacity) page_full(h, p);
    set_live(segment_at(block), granule(block));
    return block;
}

bool release(void* payload) { return free_if_live(payload); }

namespace {

// Why free_block() did not free a pointer. A block found live now was
// handed out again between the two looks, after this pointer's free: a
// double free all the same.
[[gnu::noinline]] Kind not_freed(const void* payload) {
    Kind k = find(payload).kind;
    return k == Kind::live ? Kind::freed : k;
}

}  // namespace

Kind free_block(void* payload) {
    // A pointer not on a granule never starts a block.
    if (is_segment(reinterpret_cast<std::uintptr_t>(segment_at(payload))) &&
        reinterpret_cast<std::uintptr_t>(payload) % GRANULE == 0 && free_if_live(payload)) {
        return Kind::live;
    }
    return not_freed(payload);
}

void walk(hm_visit_fn visit, void* ctx, const void* from, const void* to) {
    auto lo = reinterpret_cast<std::uintptr_t>(from);
    auto hi = reinterpret_cast<std::uintptr_t>(to);
    // The segments in address order: each time, the lowest one not yet visited.
    for (std::uintptr_t last = 0;;) {
        std::uintptr_t next = 0;
        for (Segment* s = segments; s != nullptr; s = s->next) {
            auto at = reinterpret_cast<std::uintptr_t>(s);
            if (at > last && (next == 0 || at < next)) next = at;
        }
        if (next == 0) return;
        last = next;
        if (next + SEGMENT <= lo || next >= hi) continue;
        auto* s = reinterpret_cast<Segment*>(next);
        for (Page& p : s->pages) {
            if (p.owner == nullptr) continue;
            for (std::size_t k = 0; k < p.bumped; ++k) {
                char* block = p.start + k * p.size;
                auto at = reinterpret_cast<std::uintptr_t>(block);
                if (at < lo || at >= hi || !is_live(s, granule(block))) continue;
                hm_block_info info{block, 0, block, p.size, 0};
                visit(&info, ctx);
            }
        }
    }
}

}  // namespace hm::pages
