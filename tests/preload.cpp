// tests/preload.cpp: what a stage that replaces the process's malloc must add:
// the standard names on the same heap, the memalign family, the usable size,
// threads, and fork.
//
// tests/run preloads such a stage (LD_PRELOAD), so here the harness itself
// lives on the allocator's heap. A stage without the standard names fails
// these tests with "stage has no malloc".
#include <pthread.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdint>

#include "harness.hpp"

using namespace suite;

TEST(preload, standard_names_share_heap) {
    NEED(malloc);
    NEED(free);
    void* p = api.malloc(100);
    CHECK(p != nullptr) << "malloc(100) returned NULL";
    Block a{static_cast<unsigned char*>(p), 100, 0};
    fill(a);
    Block b = alloc_filled(100);
    check_disjoint({a, b});
    check_walk({a, b}, true);  // malloc's block is one of hwalk's
    api.free(b.p);             // free takes hmalloc's blocks
    hfree(a.p);                // and hfree takes malloc's
    check_walk(nullptr, 0, true);
}

TEST(memalign, posix_memalign_alignments) {
    NEED(posix_memalign);
    static Block blocks[64];
    std::size_t n = 0;
    for (std::size_t alignment = sizeof(void*); alignment <= 65536; alignment *= 2) {
        for (std::size_t size : {0, 1, 100, 5000}) {
            void* p = nullptr;
            int rc = api.posix_memalign(&p, alignment, size);
            CHECK_EQ(rc, 0) << "posix_memalign(" << alignment << ", " << size << ")";
            CHECK(aligned(p, alignment)) << "posix_memalign(" << alignment << ", " << size << ") gave " << p;
            blocks[n] = Block{static_cast<unsigned char*>(p), size, 0};
            fill(blocks[n++]);
        }
    }
    check_intact(blocks, n);
    check_disjoint(blocks, n);
    check_walk(blocks, n, true);
    for (std::size_t bad : {0, 3, 4, 24, 48}) {
        void* p = &blocks[0];
        CHECK_EQ(api.posix_memalign(&p, bad, 16), EINVAL) << "posix_memalign with alignment " << bad;
        CHECK(p == &blocks[0]) << "a failed posix_memalign changed *memptr";
    }
    void* p = &blocks[0];
    CHECK_EQ(api.posix_memalign(&p, 64, SIZE_MAX - 32), ENOMEM);
    for (std::size_t i = 0; i < n; ++i) hfree(blocks[i].p);
    check_walk(nullptr, 0, true);
}

TEST(memalign, aligned_alloc_alignments) {
    NEED(aligned_alloc);
    static Block blocks[32];
    std::size_t n = 0;
    for (std::size_t alignment = 1; alignment <= 8192; alignment *= 2) {
        void* p = api.aligned_alloc(alignment, 3 * alignment);
        CHECK(p != nullptr && aligned(p, alignment)) << "aligned_alloc(" << alignment << ") gave " << p;
        blocks[n] = Block{static_cast<unsigned char*>(p), 3 * alignment, 0};
        fill(blocks[n++]);
    }
    check_intact(blocks, n);
    check_disjoint(blocks, n);
    check_walk(blocks, n, true);
    errno = 0;
    CHECK(api.aligned_alloc(24, 48) == nullptr) << "aligned_alloc with alignment 24 (not a power of two)";
    CHECK_EQ(errno, EINVAL);
}

// glibc's memalign rounds an alignment that is not a power of two up to the
// next one; valloc aligns to a page; pvalloc also rounds the size up to pages.
TEST(memalign, memalign_valloc_pvalloc) {
    NEED(memalign);
    NEED(valloc);
    NEED(pvalloc);
    NEED(malloc_usable_size);
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    static Block blocks[32];
    std::size_t n = 0;
    auto keep = [&](void* p, std::size_t size) {
        blocks[n] = Block{static_cast<unsigned char*>(p), size, 0};
        fill(blocks[n++]);
    };
    for (std::size_t alignment : {1, 8, 16, 48, 64, 100, 4096, 65536}) {
        void* p = api.memalign(alignment, 200);
        std::size_t expect = std::bit_ceil(alignment);
        CHECK(p != nullptr && aligned(p, expect)) << "memalign(" << alignment << ", 200) gave " << p
                                                  << ", not aligned to " << expect;
        keep(p, 200);
    }
    errno = 0;
    CHECK(api.memalign(SIZE_MAX / 2 + 2, 16) == nullptr) << "memalign with an alignment too large to round up";
    CHECK_EQ(errno, EINVAL);
    void* v = api.valloc(10);
    CHECK(v != nullptr && aligned(v, page)) << "valloc(10) gave " << v;
    keep(v, 10);
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, page, page + 1}) {
        void* p = api.pvalloc(size);
        std::size_t whole = size == 0 ? page : (size + page - 1) / page * page;
        CHECK(p != nullptr && aligned(p, page)) << "pvalloc(" << size << ") gave " << p;
        CHECK_GE(api.malloc_usable_size(p), whole) << "pvalloc(" << size << ") must give whole pages";
        keep(p, whole);  // every byte of the pages is the caller's
    }
    errno = 0;
    CHECK(api.pvalloc(SIZE_MAX - 10) == nullptr) << "pvalloc of a size that cannot be rounded up to pages";
    CHECK_EQ(errno, ENOMEM);
    check_intact(blocks, n);
    check_disjoint(blocks, n);
    check_walk(blocks, n, true);
    for (std::size_t i = 0; i < n; ++i) api.free(blocks[i].p);
    check_walk(nullptr, 0, true);
}

// free(NULL) does nothing; free and posix_memalign leave errno alone (POSIX).
TEST(preload, free_and_posix_memalign_keep_errno) {
    NEED(malloc);
    NEED(free);
    NEED(posix_memalign);
    api.free(nullptr);
    // The OS refuses to lower the break, so the calls inside free and
    // posix_memalign that give memory back fail and set errno.
    sbrk_double_refuse_shrink(1);
    void* p = api.malloc(10000);  // the top block: free tries to trim it
    CHECK(p != nullptr);
    errno = 1234;
    api.free(p);
    CHECK_EQ(errno, 1234) << "free changed errno";
    void* q = nullptr;
    errno = 1234;
    CHECK_EQ(api.posix_memalign(&q, 4096, 100), 0);  // its tail goes back: refused
    CHECK_EQ(errno, 1234) << "a successful posix_memalign changed errno";
    api.free(q);
    sbrk_double_refuse_shrink(0);
    errno = 1234;
    CHECK_EQ(api.posix_memalign(&q, 3, 16), EINVAL);
    CHECK_EQ(errno, 1234) << "a failed posix_memalign changed errno";
    CHECK_EQ(api.posix_memalign(&q, 64, SIZE_MAX - 32), ENOMEM);
    CHECK_EQ(errno, 1234) << "a failed posix_memalign changed errno";
    check_walk(nullptr, 0, true);
}

// An aligned allocation takes more than it needs and frees the rest: the
// piece in front and the tail. At the top of the heap the tail is the top,
// so it goes back to the OS: the break ends where the block ends. (112 is
// 100 rounded up to 16.)
TEST(memalign, tail_given_back_at_top) {
    NEED(posix_memalign);
    NEED(memalign);
    NEED(aligned_alloc);
    Block keep = alloc_filled(64);
    for (std::size_t alignment : {64, 4096, 65536}) {
        for (int how = 0; how < 3; ++how) {
            const char* name = how == 0 ? "posix_memalign" : how == 1 ? "memalign" : "aligned_alloc";
            void* p = nullptr;
            if (how == 0) {
                CHECK_EQ(api.posix_memalign(&p, alignment, 100), 0) << "posix_memalign(" << alignment << ", 100)";
            } else {
                p = how == 1 ? api.memalign(alignment, 100) : api.aligned_alloc(alignment, 100);
            }
            CHECK(p != nullptr && aligned(p, alignment)) << name << "(" << alignment << ", 100) gave " << p;
            const BlockInfo* b = walk_now().find(p);
            CHECK(b != nullptr) << name << "'s block " << p << " is not in hwalk";
            // What the block keeps beyond the request is less than a block
            // of its own would take: a bigger tail is split off and freed.
            CHECK_LT(b->size, std::size_t{112} + b->header_size + ALIGNMENT)
                << name << "(" << alignment << ", 100) kept a tail that could have been given back";
            // Part I gives the tail back to the OS at once; a stage that keeps
            // a pad at the top (08 on) may keep up to TOP_KEPT_MAX free there.
            // (That the shrink trims at all is trim.after_realloc_shrink's.)
            char* end = static_cast<char*>(b->payload) + b->size;
            CHECK_LE(current_break(), end + TOP_KEPT_MAX)
                << name << "(" << alignment << ", 100) at the top of the heap kept its tail: the break is more than "
                << TOP_KEPT_MAX << " bytes above the block's end";
            Block a{static_cast<unsigned char*>(p), 100, 0};
            fill(a);
            check_walk({keep, a}, true);
            api.free(p);
        }
    }
    check_intact(keep);
}

// The standard free treats a bad pointer as glibc does: a message naming the
// problem and the pointer on stderr, then abort(). (hfree on stages 03-06
// reports and carries on; a process's malloc must not hide the bug.)
namespace {
void call_free(void* p) { api.free(p); }
}  // namespace

TEST(preload, bad_free_aborts_with_message) {
    NEED(malloc);
    NEED(free);
    static unsigned char not_ours[64];
    CHECK(refused_call("free", call_free, not_ours + 16, {"invalid"}) == Outcome::aborted)
        << "free of a pointer malloc never returned must abort";
    Block guard = alloc_filled(32);
    auto* p = static_cast<unsigned char*>(api.malloc(48));
    CHECK(p != nullptr);
    Block above = alloc_filled(32);  // so that freeing p does not trim it away
    CHECK(refused_call("free", call_free, p + 16, {"invalid"}) == Outcome::aborted)
        << "free of a pointer into a block must abort";
    api.free(p);
    CHECK(refused_call("free", call_free, p, {"double free"}) == Outcome::aborted)
        << "a double free must abort";
    check_intact(guard);
    check_intact(above);
}

TEST(usable_size, at_least_request) {
    NEED(malloc_usable_size);
    CHECK_EQ(api.malloc_usable_size(nullptr), std::size_t{0});
    static Block blocks[40];
    for (std::size_t i = 0; i < 40; ++i) {
        std::size_t size = (i * 97) % 700;
        void* p = hmalloc(size);
        CHECK(p != nullptr);
        std::size_t usable = api.malloc_usable_size(p);
        CHECK_GE(usable, size) << "malloc_usable_size(hmalloc(" << size << "))";
        // All of it may be written without harming a neighbour.
        blocks[i] = Block{static_cast<unsigned char*>(p), usable, 0};
        fill(blocks[i]);
    }
    check_intact(blocks, 40);
    check_disjoint(blocks, 40);
    check_walk(blocks, 40, true);
}

// ---- threads ---------------------------------------------------------------------------

namespace {

constexpr int THREADS = 4;
constexpr int THREAD_OPS = 20000;
constexpr std::size_t THREAD_LIVE = 32;

struct Worker {
    Block live[THREAD_LIVE];
    std::size_t n;
    std::uint64_t seed;
};
Worker workers[THREADS];

// Each thread checks its own blocks; overlap between threads shows up as a
// changed pattern (or in the final check). A failed CHECK ends the process.
void* work(void* arg) {
    auto* w = static_cast<Worker*>(arg);
    Random r(w->seed);
    for (int op = 0; op < THREAD_OPS; ++op) {
        if (w->n > 0 && (w->n == THREAD_LIVE || r.chance(50))) {
            std::size_t i = r.below(w->n);
            check_intact(w->live[i], "a thread's block");
            (r.chance(50) ? api.free : api.hfree)(w->live[i].p);
            w->live[i] = w->live[--w->n];
        } else {
            std::size_t size = r.below(600);
            void* p = r.chance(50) ? api.malloc(size) : api.hmalloc(size);
            CHECK(p != nullptr) << "malloc(" << size << ") failed in a thread";
            w->live[w->n] = Block{static_cast<unsigned char*>(p), size, 0};
            fill(w->live[w->n++]);
        }
    }
    return nullptr;
}

}  // namespace

TEST(thread, concurrent_malloc_free) {
    // The stage that replaces malloc promises thread safety (stage 07 on).
    NEED(malloc);
    pthread_t ids[THREADS];
    for (int t = 0; t < THREADS; ++t) {
        workers[t].n = 0;
        workers[t].seed = 100 + static_cast<std::uint64_t>(t);
        CHECK_EQ(pthread_create(&ids[t], nullptr, work, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; ++t) pthread_join(ids[t], nullptr);
    static Block all[THREADS * THREAD_LIVE];
    std::size_t n = 0;
    for (auto& w : workers) {
        for (std::size_t i = 0; i < w.n; ++i) all[n++] = w.live[i];
    }
    check_intact(all, n);
    check_disjoint(all, n);
    check_walk(all, n, false);  // pthread's own allocations are in the heap too
}

namespace {
volatile bool stop_churn = false;
void* churn(void*) {
    Random r(7);
    while (!stop_churn) {
        void* p = api.malloc(r.below(300));
        api.free(p);
    }
    return nullptr;
}
}  // namespace

TEST(thread, fork_while_allocating) {
    // fork() while another thread is inside malloc: the child must still be
    // able to allocate (no lock left held in the child).
    NEED(malloc);
    pthread_t id;
    CHECK_EQ(pthread_create(&id, nullptr, churn, nullptr), 0);
    for (int i = 0; i < 40; ++i) {
        pid_t pid = ::fork();
        CHECK(pid >= 0) << "fork failed";
        if (pid == 0) {
            ::alarm(3);
            void* p = api.malloc(64);
            api.free(p);
            _exit(p != nullptr ? 0 : 1);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "fork " << i << ": the child could not allocate ("
            << (WIFSIGNALED(status) ? "killed by signal " : "status ")
            << (WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status))
            << (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? ": it hung, a lock held across fork?" : "")
            << ")";
    }
    stop_churn = true;
    pthread_join(id, nullptr);
}
