// tests/heaps.cpp: small blocks under threads, seen from outside.
//
// A thread's calls on its own small blocks need not wait for other threads
// (stage 15 gives each thread a heap of its own, with no lock on that path).
// And whatever a stage does with threads, a small block belongs to no
// thread: any thread may free or resize it, also after the thread that
// allocated it has exited, and also in a child of fork, where that thread
// does not exist. Every stage with malloc must get those right; the first
// property is what a heap per thread brings.
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "harness.hpp"

using namespace suite;

namespace {

// A request size as programs make them: mostly small, some up to 1 KiB (the
// largest of stage 14's size classes), every size from 1 byte on.
std::size_t small_size(Random& r) { return 1 + (r.chance(60) ? r.below(128) : r.below(1024)); }

// A block of `size` bytes from malloc, filled; the test fails if it is NULL.
Block malloc_filled(std::size_t size, const char* who) {
    void* p = api.malloc(size);
    CHECK(p != nullptr) << "malloc(" << size << ") returned NULL in " << who;
    Block b{static_cast<unsigned char*>(p), size, 0};
    fill(b);
    return b;
}

// Waits until `flag` is set, at most `seconds`; says whether it was.
bool wait_for(const std::atomic<bool>& flag, double seconds) {
    double until = now_seconds() + seconds;
    while (!flag.load(std::memory_order_acquire)) {
        if (now_seconds() > until) return false;
        ::usleep(200);
    }
    return true;
}

}  // namespace

// ---- a thread's own small blocks need no lock -------------------------------------------
//
// Thread A calls hmalloc(HEAP_PIECE), which must grow the break heap that all
// threads share; the sbrk double holds A inside that sbrk call, so A is
// inside the allocator (holding its lock, on a stage with one). Thread B
// has used a few small sizes before (its heap has a page for each, kept by
// one live block); it now makes 10,000 malloc(24)/free pairs, with calloc,
// realloc within the block's size class and malloc_usable_size among them.
// None of those calls touches anything another thread uses, so B must be
// done within a generous window while A is still held. After the window A
// is let go in any case, so a stage where B waits ends the test, not the run.

namespace {

constexpr int PAIRS = 10000;
constexpr int WINDOW = 3;  // seconds
constexpr std::size_t WARM_SIZES[] = {8, 16, 24, 32, 40, 48, 56, 64};
constexpr std::size_t WARM = sizeof WARM_SIZES / sizeof WARM_SIZES[0];

std::atomic<bool> b_ready{false};
std::atomic<bool> b_go{false};
std::atomic<bool> b_done{false};
std::atomic<int> b_pairs{0};
void* b_anchors[WARM];
std::atomic<bool> a_go{false};
std::atomic<bool> a_returned{false};
void* a_result = nullptr;

void* thread_a(void*) {
    while (!a_go.load(std::memory_order_acquire)) ::usleep(100);
    a_result = api.hmalloc(HEAP_PIECE);
    a_returned.store(true, std::memory_order_release);
    return nullptr;
}

void* thread_b(void*) {
    // Before A is held: 32 blocks of each size B uses below, all freed but
    // one, which stays live so that the page stays B's.
    for (std::size_t k = 0; k < WARM; ++k) {
        void* warm[32];
        for (auto& p : warm) {
            p = api.malloc(WARM_SIZES[k]);
            CHECK(p != nullptr) << "malloc(" << WARM_SIZES[k] << ") returned NULL in thread B";
        }
        b_anchors[k] = warm[0];
        for (std::size_t i = 1; i < 32; ++i) api.free(warm[i]);
    }
    b_ready.store(true, std::memory_order_release);
    while (!b_go.load(std::memory_order_acquire)) ::usleep(100);
    for (int i = 0; i < PAIRS; ++i) {
        Block b = malloc_filled(24, "thread B");
        if (i % 64 == 0) {
            // Within the block's class: up to its usable size and back.
            std::size_t usable = api.malloc_usable_size(b.p);
            CHECK_GE(usable, b.n) << "malloc_usable_size of a block of 24 bytes";
            void* q = api.hrealloc(b.p, usable);
            CHECK(q != nullptr) << "realloc(p, " << usable << ") of a block of 24 bytes returned NULL";
            b.p = static_cast<unsigned char*>(q);
            q = api.hrealloc(b.p, 24);
            CHECK(q != nullptr) << "realloc(p, 24) returned NULL";
            b.p = static_cast<unsigned char*>(q);
            check_intact(b, "thread B's block after realloc within its class");
            void* z = api.hcalloc(3, 8);
            CHECK(z != nullptr) << "calloc(3, 8) returned NULL in thread B";
            check_zero(z, 24, "calloc(3, 8) in thread B");
            api.free(z);
        }
        check_intact(b, "thread B's block");
        api.free(b.p);
        b_pairs.store(i + 1, std::memory_order_relaxed);
    }
    b_done.store(true, std::memory_order_release);
    return nullptr;
}

}  // namespace

TEST(thread, small_blocks_take_no_lock) {
    NEED(malloc);
    NEED(free);
    NEED(hcalloc);
    NEED(hrealloc);
    NEED(malloc_usable_size);
    pthread_t a, b;
    CHECK_EQ(pthread_create(&a, nullptr, thread_a, nullptr), 0);
    CHECK_EQ(pthread_create(&b, nullptr, thread_b, nullptr), 0);
    CHECK(wait_for(b_ready, 5)) << "thread B did not get its small blocks ready";
    // No free block left: A's request must grow the heap (it is below the
    // size that gets a mapping of its own).
    hold_in_sbrk(a_go, a_returned);
    b_go = true;
    bool done = wait_for(b_done, WINDOW);
    int pairs = b_pairs.load();
    bool a_back = a_returned.load();
    sbrk_double_release();
    pthread_join(a, nullptr);
    pthread_join(b, nullptr);
    CHECK(!a_back) << "hmalloc returned while held in sbrk";
    CHECK(done) << "a thread's calls on its own small blocks (malloc(24) and free, calloc, realloc within the "
                << "class, malloc_usable_size) waited for another thread inside the allocator (hmalloc(HEAP_PIECE), "
                << "held in sbrk): " << pairs << " of " << PAIRS << " malloc/free pairs were done in " << WINDOW
                << " s";
    CHECK(a_result != nullptr) << "hmalloc(HEAP_PIECE) returned NULL";
    for (void* p : b_anchors) api.free(p);
    check_walk(nullptr, 0, false);
}

// ---- blocks that outlive the thread that allocated them -----------------------------------
//
// Four threads allocate a few thousand blocks each, small ones of every size
// and a few larger ones, fill them, free their smallest ones and exit with
// the others live (so they leave pages empty and pages in use). Their blocks
// are intact and apart; two other threads free them all at once, and what the
// allocator holds from the OS comes back down (a stage that keeps a heap per
// thread must not lose an exited thread's memory). Then new threads allocate
// (a stage may give them the exited threads' heaps), free some, allocate
// again: their blocks too are intact and apart.

namespace {

constexpr int OUTLIVE_THREADS = 4;
constexpr std::size_t OUTLIVE_EACH = 3024;  // every 126th a larger one: 24 a thread
constexpr std::size_t FREED_BEFORE_EXIT = 128;  // a thread frees its blocks of up to this size itself
Block outlived[OUTLIVE_THREADS][OUTLIVE_EACH];
std::size_t outlived_count[OUTLIVE_THREADS];

void* allocate_and_exit(void* arg) {
    auto t = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
    Random r(900 + static_cast<std::uint64_t>(t));
    for (std::size_t i = 0; i < OUTLIVE_EACH; ++i) {
        std::size_t size = i % 126 == 0 ? 1025 + r.below(30000) : small_size(r);
        outlived[t][i] = malloc_filled(size, "a thread that then exits");
    }
    // Its smallest blocks it frees itself, so that pages of their classes
    // are empty when it exits; the others stay live.
    std::size_t n = 0;
    for (std::size_t i = 0; i < OUTLIVE_EACH; ++i) {
        Block b = outlived[t][i];
        if (b.n <= FREED_BEFORE_EXIT) {
            check_intact(b, "a block its thread then freed");
            api.free(b.p);
        } else {
            outlived[t][n++] = b;
        }
    }
    outlived_count[t] = n;
    return nullptr;  // the thread exits, its other blocks live
}

void* do_little(void*) {
    api.free(api.malloc(100));
    return nullptr;
}

// Every block of the exited threads, in address order.
Block outlived_all[OUTLIVE_THREADS * OUTLIVE_EACH];
std::size_t outlived_all_count = 0;

// Frees every other block of outlived_all, from the `first`th on (0 or 1):
// two threads at once free neighbours, blocks of one exited thread's page.
void free_outlived(std::size_t first) {
    for (std::size_t i = first; i < outlived_all_count; i += 2) (i % 4 < 2 ? api.free : api.hfree)(outlived_all[i].p);
}
std::atomic<int> freers_ready{0};
void* free_outlived_thread(void* arg) {
    // Both freers start at once, so that they work on the same pages.
    freers_ready.fetch_add(1);
    while (freers_ready.load() < 2) {
    }
    free_outlived(reinterpret_cast<std::uintptr_t>(arg));
    return nullptr;
}

// The second round: threads that allocate, free every other block, allocate
// again, and stay until the test has checked their blocks.
constexpr std::size_t SECOND_EACH = 1500;
Block second[OUTLIVE_THREADS][SECOND_EACH];
std::atomic<int> second_ready{0};
std::atomic<bool> second_release{false};

void* allocate_again(void* arg) {
    auto t = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
    Random r(950 + static_cast<std::uint64_t>(t));
    for (std::size_t i = 0; i < 1000; ++i) second[t][i] = malloc_filled(small_size(r), "a thread of the second round");
    for (std::size_t i = 0; i < 1000; i += 2) {
        check_intact(second[t][i], "a block of the second round");
        api.free(second[t][i].p);
        second[t][i] = malloc_filled(small_size(r), "a thread of the second round");
    }
    for (std::size_t i = 1000; i < SECOND_EACH; ++i) {
        second[t][i] = malloc_filled(i % 100 == 0 ? 1025 + r.below(9000) : small_size(r), "a thread of the second round");
    }
    second_ready.fetch_add(1);
    while (!second_release.load(std::memory_order_acquire)) ::usleep(200);
    for (auto& b : second[t]) api.free(b.p);
    return nullptr;
}

}  // namespace

TEST(thread, blocks_outlive_their_thread) {
    NEED(malloc);
    NEED(free);
    // Threads made and joined once first: glibc keeps their stacks (and what
    // it allocated for their thread-local storage) for the next threads, so
    // that nothing of its own lands among the blocks measured below.
    for (int round = 0; round < 2; ++round) {
        pthread_t ids[OUTLIVE_THREADS];
        for (auto& id : ids) CHECK_EQ(pthread_create(&id, nullptr, do_little, nullptr), 0);
        for (auto& id : ids) pthread_join(id, nullptr);
    }
    std::size_t live_at_start = mmap_double_get_stats().live_bytes;
    std::size_t before = held_since(live_at_start);
    pthread_t ids[OUTLIVE_THREADS];
    for (int t = 0; t < OUTLIVE_THREADS; ++t) {
        CHECK_EQ(pthread_create(&ids[t], nullptr, allocate_and_exit, reinterpret_cast<void*>(std::intptr_t{t})), 0);
    }
    for (auto& id : ids) pthread_join(id, nullptr);
    static_assert(OUTLIVE_THREADS * OUTLIVE_EACH <= MAX_WALK);
    Block* all = outlived_all;
    std::size_t count = 0;
    for (int t = 0; t < OUTLIVE_THREADS; ++t) {
        for (std::size_t i = 0; i < outlived_count[t]; ++i) all[count++] = outlived[t][i];
    }
    std::sort(all, all + count, [](const Block& a, const Block& b) { return a.p < b.p; });
    outlived_all_count = count;
    std::size_t asked = 0;
    for (std::size_t i = 0; i < count; ++i) asked += all[i].n;
    std::size_t held = held_since(live_at_start);
    std::size_t grown = held > before ? held - before : 0;
    CHECK_GE(grown, asked / 2) << "the blocks of the exited threads (" << asked << " bytes) took only " << grown
                               << " bytes from the OS";
    check_intact(all, count, "a block whose thread has exited");
    check_disjoint(all, count);
    check_walk(all, count, false);
    // Their blocks freed by two threads at once, this one and one made for it,
    // each every other block in address order.
    pthread_t freer;
    CHECK_EQ(pthread_create(&freer, nullptr, free_outlived_thread, reinterpret_cast<void*>(std::uintptr_t{1})), 0);
    free_outlived_thread(nullptr);
    pthread_join(freer, nullptr);
    held = held_since(live_at_start);
    std::size_t left = held > before ? held - before : 0;
    // What a stage keeps for the next requests (stages 14 and 15: a segment
    // of 1 MiB for small blocks, and a pad at the top of the break heap) is
    // well under a third of what the blocks took; the pages of the exited
    // threads, kept, would be more.
    CHECK_LE(left, grown / 3) << "of the " << grown << " bytes the blocks of " << OUTLIVE_THREADS
                              << " exited threads took from the OS, " << left
                              << " are still held after other threads freed them all: an exited thread's memory "
                              << "stayed with the allocator";
    check_walk(nullptr, 0, false);
    // New threads, which may take over the exited threads' heaps.
    for (int t = 0; t < OUTLIVE_THREADS; ++t) {
        CHECK_EQ(pthread_create(&ids[t], nullptr, allocate_again, reinterpret_cast<void*>(std::intptr_t{t})), 0);
    }
    double until = now_seconds() + 5;
    while (second_ready.load() < OUTLIVE_THREADS && now_seconds() < until) sleep_ms(1);
    CHECK_EQ(second_ready.load(), OUTLIVE_THREADS) << "the threads of the second round did not finish allocating";
    const Block* again = &second[0][0];
    constexpr std::size_t AGAIN = OUTLIVE_THREADS * SECOND_EACH;
    check_intact(again, AGAIN, "a block of a thread started after others exited");
    check_disjoint(again, AGAIN);
    check_walk(again, AGAIN, false);
    second_release = true;
    for (auto& id : ids) pthread_join(id, nullptr);
    check_walk(nullptr, 0, false);
}

// ---- blocks passed from thread to thread --------------------------------------------------
//
// Threads in a ring, two and then four: each allocates blocks of every
// small size (a few larger), fills them and passes them to the next through
// a queue; the receiver checks them, resizes some (within the block's class,
// to another class, above 1 KiB), checks again and frees them. So every
// block is freed, and many resized, by a thread other than the one that
// allocated it, often while that one allocates from the same page (two
// threads on two cores do that most). Each thread keeps the last blocks it
// receives; the test checks that they are intact and apart.

namespace {

constexpr int RING = 4;         // threads at most
constexpr int PASSED = 25000;  // blocks each thread allocates and passes on, in each round
int passed_each = PASSED;
constexpr std::size_t SLOTS = 64;
constexpr std::size_t KEPT = 64;

// One sender, one receiver.
struct Inbox {
    Block slot[SLOTS];
    std::atomic<std::size_t> head{0};  // moved by the receiver
    std::atomic<std::size_t> tail{0};  // moved by the sender
};

struct Member {
    Inbox inbox;
    Block kept[KEPT];
    std::size_t kept_count = 0;
    int received = 0;
    std::size_t small_bytes_sent = 0;  // in blocks of up to 1 KiB
};
Member ring[RING];
int ring_members = RING;  // in this round

bool push(Inbox& q, const Block& b) {
    std::size_t t = q.tail.load(std::memory_order_relaxed);
    if (t - q.head.load(std::memory_order_acquire) == SLOTS) return false;
    q.slot[t % SLOTS] = b;
    q.tail.store(t + 1, std::memory_order_release);
    return true;
}

bool pop(Inbox& q, Block& b) {
    std::size_t h = q.head.load(std::memory_order_relaxed);
    if (h == q.tail.load(std::memory_order_acquire)) return false;
    b = q.slot[h % SLOTS];
    q.head.store(h + 1, std::memory_order_release);
    return true;
}

// Most blocks of one class, so that a thread often frees a block into
// the very page its owner is allocating from at that moment; the others of
// every small size, and a few larger.
std::size_t ring_size(Random& r) {
    if (r.chance(70)) return 17 + r.below(16);
    return r.chance(6) ? 1025 + r.below(4000) : small_size(r);
}

void receive(Member& m, Block b, Random& r) {
    check_intact(b, "a block another thread allocated, filled and passed on");
    std::size_t usable = api.malloc_usable_size(b.p);
    CHECK_GE(usable, b.n) << "malloc_usable_size of a block another thread allocated";
    if (r.chance(30)) {
        std::size_t size = 0;
        switch (r.below(3)) {
            case 0: size = b.n + r.below(usable - b.n + 1); break;  // within its class
            case 1: size = small_size(r); break;                     // another class, most likely
            default: size = 1025 + r.below(6000); break;             // above the small blocks
        }
        void* q = api.hrealloc(b.p, size);
        CHECK(q != nullptr) << "realloc(p, " << size << ") of a block another thread allocated returned NULL";
        std::size_t kept = b.n < size ? b.n : size;
        check_prefix_intact(Block{static_cast<unsigned char*>(q), kept, b.tag}, kept,
                            "a block another thread allocated, after realloc");
        b = Block{static_cast<unsigned char*>(q), size, 0};
        fill(b);
    }
    ++m.received;
    if (m.received > passed_each - static_cast<int>(KEPT)) {
        m.kept[m.kept_count++] = b;
    } else {
        api.free(b.p);
    }
}

void* ring_member(void* arg) {
    auto t = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
    Member& me = ring[t];
    Inbox& next = ring[(t + 1) % ring_members].inbox;
    Random r(1200 + static_cast<std::uint64_t>(t));
    int sent = 0;
    Block pending{};
    bool has_pending = false;
    // While the next thread's inbox is full, this one empties its own: no
    // thread of the ring waits for another that waits for it.
    while (sent < passed_each || me.received < passed_each) {
        bool moved = false;
        if (sent < passed_each) {
            if (!has_pending) {
                pending = malloc_filled(ring_size(r), "a thread of the ring");
                has_pending = true;
            }
            if (push(next, pending)) {
                if (pending.n <= 1024) me.small_bytes_sent += pending.n;
                has_pending = false;
                ++sent;
                moved = true;
            }
        }
        Block b;
        if (pop(me.inbox, b)) {
            receive(me, b, r);
            moved = true;
        }
        if (!moved) ::sched_yield();
    }
    return nullptr;
}

// A ring of `members` threads, each passing `each` blocks; the blocks kept
// are checked and freed. Returns the bytes passed round in small blocks.
std::size_t run_ring(int members, int each) {
    std::size_t passed = 0;
    ring_members = members;
    passed_each = each;
    for (auto& m : ring) {
        m.inbox.head = 0;
        m.inbox.tail = 0;
        m.kept_count = 0;
        m.received = 0;
        m.small_bytes_sent = 0;
    }
    pthread_t ids[RING];
    for (int t = 0; t < members; ++t) {
        CHECK_EQ(pthread_create(&ids[t], nullptr, ring_member, reinterpret_cast<void*>(std::intptr_t{t})), 0);
    }
    for (int t = 0; t < members; ++t) pthread_join(ids[t], nullptr);
    static Block all[RING * KEPT];
    std::size_t n = 0;
    for (int t = 0; t < members; ++t) {
        CHECK_EQ(ring[t].received, passed_each);
        passed += ring[t].small_bytes_sent;
        for (std::size_t i = 0; i < ring[t].kept_count; ++i) all[n++] = ring[t].kept[i];
    }
    check_intact(all, n, "a block passed on and kept");
    check_disjoint(all, n);
    check_walk(all, n, false);
    for (std::size_t i = 0; i < n; ++i) api.free(all[i].p);
    return passed;
}

}  // namespace

TEST(thread, blocks_passed_between_threads) {
    NEED(malloc);
    NEED(free);
    NEED(hrealloc);
    NEED(malloc_usable_size);
    run_ring(2, PASSED);
    run_ring(RING, PASSED);
    check_walk(nullptr, 0, false);
}

TEST(thread, remote_frees_reused) {
    // The ring of four of thread.blocks_passed_between_threads, longer. A
    // block freed by another thread must be reused: only a few hundred blocks
    // are live at any moment, so the memory the allocator held at its peak
    // (the break's highest point and the most mapped at once, both above the
    // start) is a small part of all the bytes passed round in small blocks
    // (stage 15, with a page of 64 KiB per class in each of the four heaps:
    // about a fifth).
    NEED(malloc);
    NEED(free);
    NEED(hrealloc);
    NEED(malloc_usable_size);
    std::size_t live_at_start = mmap_double_get_stats().live_bytes;
    std::size_t passed = run_ring(RING, 3 * PASSED);
    std::size_t brk_peak = static_cast<std::size_t>(sbrk_double_region() + sbrk_double_get_stats().peak - start.brk);
    std::size_t map_peak = mmap_double_get_stats().peak_bytes;
    std::size_t peak = brk_peak + (map_peak > live_at_start ? map_peak - live_at_start : 0);
    CHECK_LE(peak, passed / 2) << "the allocator held up to " << peak << " bytes while " << passed
                               << " bytes were passed round in small blocks, at most a few hundred live at once: blocks "
                               << "freed by another thread were not reused";
}

// ---- fork, and a block of a thread the child does not have ------------------------------
//
// Thread W allocates a thousand small blocks, fills them and waits; another
// thread allocates and frees all along. The process forks, again and again:
// each child finds W's blocks intact, frees them all (W does not exist in the
// child), then allocates a burst of its own, and so does a thread it makes;
// it checks and frees them all. Afterwards W, in the parent, finds its
// blocks intact and frees them.

namespace {

constexpr std::size_t W_BLOCKS = 1000;
Block w_blocks[W_BLOCKS];
std::atomic<bool> w_ready{false};
std::atomic<bool> w_free{false};
std::atomic<bool> churn_stop{false};

void* thread_w(void*) {
    Random r(77);
    for (auto& b : w_blocks) b = malloc_filled(small_size(r), "thread W");
    w_ready.store(true, std::memory_order_release);
    while (!w_free.load(std::memory_order_acquire)) ::usleep(200);
    check_intact(w_blocks, W_BLOCKS, "thread W's block, in the parent after the forks");
    for (auto& b : w_blocks) api.free(b.p);
    return nullptr;
}

void* churn_small(void*) {
    Random r(78);
    Block live[32] = {};
    while (!churn_stop.load(std::memory_order_relaxed)) {
        Block& b = live[r.below(32)];
        if (b.p != nullptr) {
            check_intact(b, "the churning thread's block");
            api.free(b.p);
        }
        b = malloc_filled(r.chance(95) ? small_size(r) : 1025 + r.below(8000), "the churning thread");
    }
    for (auto& b : live) api.free(b.p);
    return nullptr;
}

constexpr std::size_t BURST = 300;
Block burst[BURST];
Block thread_burst[BURST];

void allocate_burst(Block* blocks, std::uint64_t seed, const char* who) {
    Random r(seed);
    for (std::size_t i = 0; i < BURST; ++i) {
        blocks[i] = malloc_filled(r.chance(90) ? small_size(r) : 1025 + r.below(8000), who);
    }
}

// A thread the child makes (a stage may give it a heap that a thread of the
// parent left behind).
void* child_thread(void*) {
    allocate_burst(thread_burst, 80, "a thread the child of fork made");
    for (std::size_t i = 0; i < BURST; i += 2) {
        api.free(thread_burst[i].p);
        thread_burst[i] = malloc_filled(1 + i % 700, "a thread the child of fork made");
    }
    return nullptr;
}

void child_frees_w_blocks() {
    check_intact(w_blocks, W_BLOCKS, "thread W's block, seen in the child of fork");
    for (std::size_t i = 0; i < W_BLOCKS; ++i) (i % 2 ? api.free : api.hfree)(w_blocks[i].p);
    allocate_burst(burst, 79, "the child of fork");
    pthread_t id;
    CHECK_EQ(pthread_create(&id, nullptr, child_thread, nullptr), 0) << "pthread_create in the child of fork";
    pthread_join(id, nullptr);
    check_intact(burst, BURST, "a block the child of fork allocated");
    check_intact(thread_burst, BURST, "a block a thread of the child of fork allocated");
    static Block both[2 * BURST];
    for (std::size_t i = 0; i < BURST; ++i) both[i] = burst[i], both[BURST + i] = thread_burst[i];
    check_disjoint(both, 2 * BURST);
    check_walk(both, 2 * BURST, false);
    for (auto& b : both) api.free(b.p);
    check_walk(nullptr, 0, false);
}

}  // namespace

TEST(thread, fork_child_frees_another_threads_blocks) {
    NEED(malloc);
    NEED(free);
    pthread_t w, churner;
    CHECK_EQ(pthread_create(&w, nullptr, thread_w, nullptr), 0);
    CHECK(wait_for(w_ready, 5)) << "thread W did not allocate its blocks";
    CHECK_EQ(pthread_create(&churner, nullptr, churn_small, nullptr), 0);
    constexpr int FORKS = 20;
    for (int i = 0; i < FORKS; ++i) {
        int status = fork_and_wait(child_frees_w_blocks);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "fork " << i << " of " << FORKS << ": the child could not free another thread's blocks and use its "
            << "heap: it " << ended(status);
    }
    churn_stop = true;
    pthread_join(churner, nullptr);
    w_free = true;
    pthread_join(w, nullptr);
    check_walk(nullptr, 0, false);
}
