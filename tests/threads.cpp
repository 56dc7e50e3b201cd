// tests/threads.cpp: every entry point under threads, and fork.
//
// Calls on the memory threads share must come in one at a time; fork must
// give the child a heap no thread was halfway through changing, even when
// another library's fork handler allocates. (tests/preload.cpp has the first
// two thread tests; tests/heaps.cpp those of a heap per thread.)
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "harness.hpp"

using namespace suite;

namespace {

// ---- a thread that uses every entry point the stage has ------------------------------

// Blocks a worker owns. Each is checked before it is freed or resized; a
// block handed to two threads, or overwritten by a half-done call of another
// thread, shows up as a changed pattern.
constexpr std::size_t LIVE = 24;
struct Worker {
    Block live[LIVE];
    std::size_t n;
    std::uint64_t seed;
    int ops;  // how many operations, or until `stop` if negative
};
std::atomic<bool> stop{false};

void* allocate_any(Random& r, std::size_t size, bool& zeroed, std::size_t& alignment) {
    zeroed = false;
    alignment = ALIGNMENT;
    switch (r.below(8)) {
        case 0: return api.hmalloc(size);
        case 1: return api.malloc(size);
        case 2:
            zeroed = true;
            return api.hcalloc(1 + size / 8, 8);
        case 3: {
            void* p = nullptr;
            alignment = std::size_t{32} << r.below(5);
            return api.posix_memalign(&p, alignment, size) == 0 ? p : nullptr;
        }
        case 4:
            alignment = std::size_t{64} << r.below(4);
            return api.memalign(alignment, size);
        case 5:
            alignment = std::size_t{32} << r.below(4);
            return api.aligned_alloc(alignment, size);
        case 6: return api.hrealloc(nullptr, size);
        default: return api.hreallocarray(nullptr, 1 + size / 16, 16);
    }
}

void one_op(Worker& w, Random& r) {
    if (w.n > 0 && (w.n == LIVE || r.chance(45))) {
        std::size_t i = r.below(w.n);
        Block& b = w.live[i];
        check_intact(b, "a thread's block");
        CHECK_GE(api.malloc_usable_size(b.p), b.n) << "malloc_usable_size of a thread's block";
        if (r.chance(40)) {
            // Resize: the old contents must come along.
            std::size_t size = r.below(r.chance(10) ? 9000 : 700);
            void* q = r.chance(50) ? api.hrealloc(b.p, size) : api.hreallocarray(b.p, size, 1);
            CHECK(q != nullptr || size == 0) << "hrealloc(" << size << ") failed in a thread";
            if (q == nullptr) {
                w.live[i] = w.live[--w.n];  // realloc(p, 0) freed it
                return;
            }
            std::size_t kept = b.n < size ? b.n : size;
            check_prefix_intact(Block{static_cast<unsigned char*>(q), kept, b.tag}, kept, "a block hrealloc moved");
            b = Block{static_cast<unsigned char*>(q), size, 0};
            fill(b);
            return;
        }
        (r.chance(50) ? api.free : api.hfree)(b.p);
        w.live[i] = w.live[--w.n];
        return;
    }
    std::size_t size = r.below(r.chance(10) ? 9000 : 600);
    bool zeroed = false;
    std::size_t alignment = ALIGNMENT;
    void* p = allocate_any(r, size, zeroed, alignment);
    CHECK(p != nullptr) << "an allocation of " << size << " bytes failed in a thread";
    CHECK(aligned(p, alignment)) << p << " is not aligned to " << alignment
                                 << (size < ALIGNMENT && alignment == ALIGNMENT ? " (a tiny block)" : "");
    std::size_t n = zeroed ? (1 + size / 8) * 8 : size;
    if (zeroed) check_zero(p, api.malloc_usable_size(p), "hcalloc's block in a thread");
    w.live[w.n] = Block{static_cast<unsigned char*>(p), n, 0};
    fill(w.live[w.n++]);
}

void* work(void* arg) {
    auto* w = static_cast<Worker*>(arg);
    Random r(w->seed);
    for (int op = 0; w->ops < 0 ? !stop.load(std::memory_order_relaxed) : op < w->ops; ++op) one_op(*w, r);
    return nullptr;
}

// The calls one_op makes, all of which a stage must have.
#define NEED_EVERY_CALL    \
    NEED(malloc);          \
    NEED(free);            \
    NEED(hcalloc);         \
    NEED(hrealloc);        \
    NEED(hreallocarray);   \
    NEED(posix_memalign);  \
    NEED(memalign);        \
    NEED(aligned_alloc);   \
    NEED(malloc_usable_size)

constexpr int WORKERS = 4;
Worker workers[WORKERS];

void start_workers(pthread_t* ids, int count, int ops) {
    stop = false;
    for (int t = 0; t < count; ++t) {
        workers[t].n = 0;
        workers[t].seed = 500 + static_cast<std::uint64_t>(t);
        workers[t].ops = ops;
        CHECK_EQ(pthread_create(&ids[t], nullptr, work, &workers[t]), 0);
    }
}

void join_workers(pthread_t* ids, int count) {
    stop = true;
    for (int t = 0; t < count; ++t) pthread_join(ids[t], nullptr);
}

// A heap walk, consistent, and a burst of blocks allocated, checked and freed:
// what a child of fork must be able to do with the heap it inherited.
void use_heap_in_child() {
    check_walk(nullptr, 0, false);
    constexpr std::size_t BURST = 50;
    static Block burst[BURST];
    for (std::size_t i = 0; i < BURST; ++i) {
        std::size_t size = 1 + (i * 131) % 3000;
        void* p = (i % 2 ? api.malloc : api.hmalloc)(size);
        CHECK(p != nullptr) << "malloc(" << size << ") in the child of fork returned NULL";
        burst[i] = Block{static_cast<unsigned char*>(p), size, 0};
        fill(burst[i]);
    }
    check_intact(burst, BURST, "a block the child of fork allocated");
    check_disjoint(burst, BURST);
    check_walk(burst, BURST, false);
    for (std::size_t i = 0; i < BURST; ++i) api.free(burst[i].p);
    check_walk(nullptr, 0, false);
}

}  // namespace

// ---- every call at once -----------------------------------------------------------------

TEST(thread, concurrent_every_call) {
    // calloc, realloc and the aligned family take the same lock as malloc.
    NEED_EVERY_CALL;
    pthread_t ids[WORKERS];
    start_workers(ids, WORKERS, 40000);
    for (int t = 0; t < WORKERS; ++t) pthread_join(ids[t], nullptr);
    static Block all[WORKERS * LIVE];
    std::size_t n = 0;
    for (auto& w : workers) {
        for (std::size_t i = 0; i < w.n; ++i) all[n++] = w.live[i];
    }
    check_intact(all, n);
    check_disjoint(all, n);
    check_walk(all, n, false);  // pthread's own allocations are in the heap too
}

// ---- calls on shared memory, one at a time ----------------------------------------------
//
// The property: calls that change memory all threads share are serialised.
// Thread A calls hmalloc(HEAP_PIECE), which must grow the heap; the sbrk
// double holds A inside that sbrk call. Other threads, one per entry point,
// then make their call, each on blocks every stage keeps in the one shared
// heap: larger than any stage's small size classes (a later stage serves
// those from a heap per thread, with no lock: thread.small_blocks_take_no_lock)
// and below the size that gets a mapping of its own. None of them may
// return while A is inside; then A is let go and every call completes.

namespace {

// Above every stage's small blocks (stage 14's go up to 1 KiB), below every
// stage's mmap threshold (128 KiB), and so on the break heap, which every
// thread shares.
constexpr std::size_t SHARED = 4000;

struct Caller {
    const char* name;
    void (*call)();
    std::atomic<bool> returned{false};
    pthread_t id{};
};

std::atomic<bool> callers_go{false};
std::atomic<bool> a_go{false};
std::atomic<bool> a_returned{false};
void* a_result = nullptr;
void* arg_hfree = nullptr;
void* arg_free = nullptr;
void* arg_realloc = nullptr;
void* arg_reallocarray = nullptr;
void* arg_usable = nullptr;
void* sink[16];

void nothing(const hm_block_info*, void*) {}

void call_hmalloc() { sink[0] = api.hmalloc(SHARED); }
void call_hfree() { api.hfree(arg_hfree); }
void call_hwalk() { api.hwalk(nothing, nullptr); }
void call_hcalloc() { sink[1] = api.hcalloc(SHARED / 8, 8); }
void call_hrealloc() { sink[2] = api.hrealloc(arg_realloc, SHARED + 2000); }
void call_hreallocarray() { sink[3] = api.hreallocarray(arg_reallocarray, 4, (SHARED + 2000) / 4); }
void call_malloc() { sink[4] = api.malloc(SHARED); }
void call_free() { api.free(arg_free); }
void call_posix_memalign() {
    if (api.posix_memalign(&sink[5], 64, SHARED) != 0) sink[5] = nullptr;
}
void call_aligned_alloc() { sink[6] = api.aligned_alloc(64, SHARED); }
void call_memalign() { sink[7] = api.memalign(256, SHARED); }
void call_valloc() { sink[8] = api.valloc(SHARED); }
void call_pvalloc() { sink[9] = api.pvalloc(SHARED); }
void call_usable_size() { sink[10] = reinterpret_cast<void*>(api.malloc_usable_size(arg_usable)); }

void* caller_thread(void* arg) {
    auto* c = static_cast<Caller*>(arg);
    while (!callers_go.load(std::memory_order_acquire)) ::usleep(100);
    c->call();
    c->returned.store(true, std::memory_order_release);
    return nullptr;
}

void* thread_a(void*) {
    while (!a_go.load(std::memory_order_acquire)) ::usleep(100);
    a_result = api.hmalloc(HEAP_PIECE);
    a_returned.store(true, std::memory_order_release);
    return nullptr;
}

}  // namespace

TEST(thread, calls_are_serialised) {
    static Caller callers[16];
    std::size_t n = 0;
    auto add = [&](const char* name, void (*call)(), bool present) {
        if (!present) return;
        callers[n].name = name;
        callers[n].call = call;
        ++n;
    };
    add("hmalloc", call_hmalloc, true);
    add("hfree", call_hfree, true);
    add("hwalk", call_hwalk, true);
    add("hcalloc", call_hcalloc, api.hcalloc != nullptr);
    add("hrealloc", call_hrealloc, api.hrealloc != nullptr);
    add("hreallocarray", call_hreallocarray, api.hreallocarray != nullptr);
    add("malloc", call_malloc, api.malloc != nullptr);
    add("free", call_free, api.free != nullptr);
    add("posix_memalign", call_posix_memalign, api.posix_memalign != nullptr);
    add("aligned_alloc", call_aligned_alloc, api.aligned_alloc != nullptr);
    add("memalign", call_memalign, api.memalign != nullptr);
    add("valloc", call_valloc, api.valloc != nullptr);
    add("pvalloc", call_pvalloc, api.pvalloc != nullptr);
    add("malloc_usable_size", call_usable_size, api.malloc_usable_size != nullptr);
    // The blocks the callers free or resize, and a block above them so that
    // none of those calls trims the heap under A's feet on a stage without a lock.
    arg_hfree = alloc_filled(SHARED).p;
    arg_free = alloc_filled(SHARED).p;
    arg_realloc = alloc_filled(SHARED).p;
    arg_reallocarray = alloc_filled(SHARED).p;
    arg_usable = alloc_filled(SHARED).p;
    Block guard = alloc_filled(SHARED);
    // Every thread exists before A is held: pthread_create may allocate.
    for (std::size_t i = 0; i < n; ++i) {
        CHECK_EQ(pthread_create(&callers[i].id, nullptr, caller_thread, &callers[i]), 0);
    }
    pthread_t a;
    CHECK_EQ(pthread_create(&a, nullptr, thread_a, nullptr), 0);
    // Creating the threads may have left free space; with none, A's request
    // must grow the heap (it is below the size that gets a mapping of its own).
    hold_in_sbrk(a_go, a_returned);
    // A is inside the allocator. One window for every caller: a call that
    // does not wait for A returns within it.
    callers_go = true;
    double until = now_seconds() + 1.0;
    std::size_t returned = 0;
    while (now_seconds() < until) {
        returned = 0;
        for (std::size_t i = 0; i < n; ++i) returned += callers[i].returned.load() ? 1 : 0;
        if (returned == n) break;
        sleep_ms(10);
    }
    Text names;
    for (std::size_t i = 0; i < n; ++i) {
        if (callers[i].returned.load()) names << (names.size() ? ", " : "") << callers[i].name;
    }
    // Reported with A still held: letting A go on after another call
    // changed the heap under it could crash a stage without a lock.
    CHECK(names.size() == 0) << names << " (on blocks of " << SHARED
                             << " bytes, in the shared heap) returned while another thread was inside the allocator "
                             << "(hmalloc, held in sbrk): the calls are not serialised";
    CHECK(!a_returned.load()) << "hmalloc returned while held in sbrk";
    sbrk_double_release();
    pthread_join(a, nullptr);
    for (std::size_t i = 0; i < n; ++i) pthread_join(callers[i].id, nullptr);
    CHECK(a_result != nullptr) << "hmalloc(HEAP_PIECE) returned NULL";
    check_intact(guard);
    check_walk(nullptr, 0, false);
}

// ---- fork -------------------------------------------------------------------------------

TEST(thread, fork_child_heap_consistent) {
    // fork() while other threads use every entry point: each child walks the
    // heap it inherited and allocates, checks and frees a burst of blocks.
    // A child that inherits a half-done call (a block half split, a break
    // lowered but the block still listed) fails, crashes or hangs here.
    NEED_EVERY_CALL;
    constexpr int CHURN = 2;
    constexpr int FORKS = 100;
    pthread_t ids[CHURN];
    start_workers(ids, CHURN, -1);
    for (int i = 0; i < FORKS; ++i) {
        int status = fork_and_wait(use_heap_in_child);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "fork " << i << " of " << FORKS << ": the child could not use its heap: it " << ended(status);
    }
    join_workers(ids, CHURN);
}

namespace {
// A library's fork handlers that allocate, as some do (strdup in prepare).
void handler_allocates(const char* when) {
    void* p = api.malloc(100);
    CHECK(p != nullptr) << "malloc in a fork handler (" << when << ") returned NULL";
    Block b{static_cast<unsigned char*>(p), 100, 0};
    fill(b);
    check_intact(b, "a fork handler's block");
    api.free(p);
}
void prepare_allocates() { handler_allocates("prepare"); }
void parent_allocates() { handler_allocates("parent"); }
void child_allocates() { handler_allocates("child"); }
}  // namespace

TEST(thread, fork_handler_allocates) {
    // Registered after the stage's handlers (the stage registered its own
    // when it was loaded): its prepare runs before the stage's takes the
    // lock, its parent and child handlers after the stage's let it go.
    NEED_EVERY_CALL;
    CHECK_EQ(pthread_atfork(prepare_allocates, parent_allocates, child_allocates), 0);
    pthread_t ids[1];
    start_workers(ids, 1, -1);
    for (int i = 0; i < 40; ++i) {
        int status = fork_and_wait(use_heap_in_child);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "fork " << i << " with an allocating fork handler: the child " << ended(status);
    }
    join_workers(ids, 1);
}

TEST(thread, fork_handler_registered_first_allocates) {
    // A fork handler registered BEFORE the stage's runs its prepare step
    // after the stage's has taken the lock, and its parent/child steps before
    // the stage's has let it go. The suite has loaded the stage long ago, so
    // a helper program (tests/atfork_first.cpp) registers its handler first,
    // then loads the stage, allocates and forks. It must not hang.
    static char helper[4096];
    ssize_t len = ::readlink("/proc/self/exe", helper, sizeof helper - 32);
    CHECK(len > 0) << "cannot read /proc/self/exe";
    helper[len] = '\0';
    char* slash = std::strrchr(helper, '/');
    CHECK(slash != nullptr);
    std::strcpy(slash + 1, "atfork-first");
    CHECK(::access(helper, X_OK) == 0) << "the helper " << helper << " is missing (make build/tests/atfork-first)";
    pid_t pid = ::fork();
    CHECK(pid >= 0) << "fork failed";
    if (pid == 0) {
        ::setpgid(0, 0);  // its own group, so that a child it leaves hanging can be killed
        // No LD_PRELOAD: the helper loads the stage itself, after registering.
        char* argv[] = {helper, const_cast<char*>(library_path), nullptr};
        char* envp[] = {nullptr};
        ::execve(helper, argv, envp);
        _exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::kill(-pid, SIGKILL);  // a child of the helper still hanging in fork
    CHECK(!(WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM))
        << "fork hung: a fork handler registered before the stage's allocates, after the stage's prepare "
        << "handler took the heap lock";
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the helper " << ended(status);
}
