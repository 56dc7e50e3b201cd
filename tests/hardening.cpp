// tests/hardening.cpp: a bad program caught early (stage 16).
//
// Each test plays a buggy program in a forked child with a time limit: it
// overwrites the link of a freed small block with an address, writes past
// the end of a small block or into one it has freed, or writes past the end
// of a large block. The stage must stop it: abort with a message that names
// the call and the problem (and the block), or, for the large block, a
// fault (SIGSEGV) on the write itself. Anything else is "not caught": the
// program ran on (whatever the allocator did with the damage), was killed
// by another signal or a time limit, or aborted with another message. A
// stage without the checks may crash or loop on the damage: that is why
// the program runs in a child, and why the planted addresses are ones the
// test owns (a live block, a static buffer), so the child can tell when
// malloc hands one out.
//
// The costly checks wait for an option (HMALLOC_CHECK=full), which a stage
// reads from its environment once: the tests that need it run again in a
// fresh suite process with the option set (with_option()).
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "harness.hpp"

using namespace suite;

namespace {

constexpr std::size_t SMALL = 64;       // a request every stage from 14 on serves from a page
constexpr unsigned TIME_LIMIT = 3;      // seconds for a child that may loop on a corrupted list
constexpr int MALLOCS = 64;             // how far the child allocates after the damage

// ---- the buggy program, in a child -------------------------------------------------------

// The child's note on how it ran on (it writes it to stderr, which the parent reads).
void note(const char* text, const void* p = nullptr) {
    Text t;
    t << text;
    if (p != nullptr) t << ' ' << p;
    t << '\n';
    ssize_t ignored = ::write(2, t.c_str(), t.size());
    (void)ignored;
}

const char* signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev != nullptr ? abbrev : "?";
}

// Runs `bad` in a child with a time limit. It must be stopped by abort with
// a message naming `call`, one of `problems` and `block` (unless null: a
// block only the child knows); otherwise the test
// fails with "<what> not caught: " and what happened.
void expect_abort(const char* what, void (*bad)(), const char* call, std::initializer_list<const char*> problems,
                  const void* block, Where at = Where::current()) {
    static StderrCapture cap;
    cap.begin(at);
    pid_t pid = ::fork();
    CHECK(pid >= 0) << "fork failed";
    if (pid == 0) {
        ::alarm(TIME_LIMIT);
        bad();
        _exit(0);
    }
    int status = 0;
    cap.end();
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
        FAIL() << what << " not caught: the program was still running after " << TIME_LIMIT
               << " s (a loop in a corrupted list?); stderr: " << cap.text();
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) != SIGABRT) {
        FAIL() << what << " not caught: the program was killed by SIG" << signal_name(WTERMSIG(status))
               << " (the damage was followed); stderr: " << cap.text();
    }
    if (!WIFSIGNALED(status)) {
        FAIL() << what << " not caught: the program ran on; stderr: " << cap.text();
    }
    bool named = false;
    for (const char* problem : problems) named = named || cap.contains(problem);
    const char* function = call[0] == 'h' ? call + 1 : call;
    CHECK(named && cap.contains(function) && (block == nullptr || cap.mentions_pointer(block)))
        << what << " not caught: the program aborted, but the message does not name the call " << function
        << "(), the problem (" << *problems.begin() << ") and the block " << block << ": " << cap.text();
}

// Runs `bad` in a child, which must be killed by SIGSEGV.
void expect_fault(const char* what, void (*bad)(), Where at = Where::current()) {
    static StderrCapture cap;
    cap.begin(at);
    pid_t pid = ::fork();
    CHECK(pid >= 0) << "fork failed";
    if (pid == 0) {
        ::alarm(TIME_LIMIT);
        bad();
        _exit(0);
    }
    int status = 0;
    cap.end();
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) return;
    if (WIFSIGNALED(status)) {
        FAIL() << what << " not caught: the program was killed by SIG" << signal_name(WTERMSIG(status))
               << ", not by a fault on the write; stderr: " << cap.text();
    }
    FAIL() << what << " not caught: " << cap.text();
}

// ---- what the child does -------------------------------------------------------------

void* planted = nullptr;  // the address the link now holds

// Allocates blocks of SMALL bytes, as a program goes on after the damage,
// until the list reaches the damaged block and beyond; says so if malloc
// hands out the planted address.
void allocate_on() {
    for (int i = 0; i < MALLOCS; ++i) {
        void* q = hmalloc(SMALL);
        if (q == nullptr) break;
        if (planted != nullptr && q == planted) {
            note("malloc returned the planted address", q);
            return;
        }
    }
    note("malloc went on as if nothing had happened");
}

// Small blocks side by side: `a`, and `b` right above it, both live.
struct Pair {
    Block a, b;
};

// Among `count` fresh blocks of SMALL bytes, two neighbours: b the lowest
// block above a. Where small blocks have no header, b starts where a's
// SMALL bytes end, or a gap after it.
Pair neighbours(Block* blocks, std::size_t count, Where at = Where::current()) {
    for (std::size_t i = 0; i < count; ++i) blocks[i] = alloc_filled(SMALL, at);
    Pair best{};
    std::size_t best_gap = SIZE_MAX;
    for (std::size_t i = 0; i < count; ++i) {
        for (std::size_t j = 0; j < count; ++j) {
            if (blocks[j].p <= blocks[i].p) continue;
            auto gap = static_cast<std::size_t>(blocks[j].p - blocks[i].p);
            if (gap < best_gap) best_gap = gap, best = Pair{blocks[i], blocks[j]};
        }
    }
    CHECK(best_gap != SIZE_MAX) << "no two of " << count << " blocks lie one above the other";
    return best;
}

// ---- HMALLOC_CHECK=full, in a fresh process ---------------------------------------------

// The option's tests: true in a suite process started with HMALLOC_CHECK=full
// (the test's body goes on there); in the test's own process, starts that
// process for this one test, with the suite's own arguments, and ends the
// test with its verdict (false: the caller returns). A stage reads the
// option once, long before a test begins: setting it here would be too late.
bool with_option(const char* test_name) {
    const char* value = std::getenv("HMALLOC_CHECK");
    if (value != nullptr && std::strcmp(value, "full") == 0) return true;
    // The suite's arguments, from /proc/self/cmdline, without --only and
    // --limitations (the inner run says plainly whether the test passed).
    static char cmdline[8192];
    int fd = ::open("/proc/self/cmdline", O_RDONLY);
    CHECK(fd >= 0) << "cannot read /proc/self/cmdline";
    std::size_t len = 0;
    for (ssize_t n; (n = ::read(fd, cmdline + len, sizeof cmdline - 1 - len)) > 0;) len += static_cast<std::size_t>(n);
    ::close(fd);
    cmdline[len] = '\0';
    static char* argv[64];
    std::size_t argc = 0;
    static char exe[4096];
    ssize_t exe_len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(exe_len > 0) << "cannot read /proc/self/exe";
    exe[exe_len] = '\0';
    argv[argc++] = exe;
    bool first = true;
    for (std::size_t i = 0; i < len && argc < 60;) {
        char* arg = cmdline + i;
        i += std::strlen(arg) + 1;
        if (first) {  // the program's own name
            first = false;
            continue;
        }
        if ((std::strcmp(arg, "--only") == 0 || std::strcmp(arg, "--limitations") == 0) && i < len) {
            i += std::strlen(cmdline + i) + 1;  // and its value
            continue;
        }
        argv[argc++] = arg;
    }
    static char only[] = "--only";
    argv[argc++] = only;
    argv[argc++] = const_cast<char*>(test_name);
    argv[argc] = nullptr;
    static char* envp[1024];
    std::size_t envc = 0;
    for (char** e = environ; *e != nullptr && envc < 1020; ++e) {
        if (std::strncmp(*e, "HMALLOC_CHECK=", 14) != 0) envp[envc++] = *e;
    }
    static char option[] = "HMALLOC_CHECK=full";
    envp[envc++] = option;
    envp[envc] = nullptr;

    int fds[2];
    CHECK(::pipe(fds) == 0) << "pipe failed";
    pid_t pid = ::fork();
    CHECK(pid >= 0) << "fork failed";
    if (pid == 0) {
        ::dup2(fds[1], 1);
        ::close(fds[0]);
        ::close(fds[1]);
        ::execve(exe, argv, envp);
        _exit(127);
    }
    ::close(fds[1]);
    static char out[16384];
    std::size_t got = 0;
    for (ssize_t n; (n = ::read(fds[0], out + got, sizeof out - 1 - got)) > 0 || (n < 0 && errno == EINTR);) {
        if (n > 0) got += static_cast<std::size_t>(n);
    }
    ::close(fds[0]);
    out[got] = '\0';
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (std::strstr(out, "\nok 1 - ") != nullptr) return false;  // passed there
    // The inner run's diagnostic lines ("#   file:line: ...") carry its failure.
    Text why;
    for (const char* line = out; *line != '\0';) {
        const char* end = std::strchr(line, '\n');
        std::size_t n = end ? static_cast<std::size_t>(end - line) : std::strlen(line);
        if (n > 4 && std::strncmp(line, "#   ", 4) == 0) {
            for (std::size_t k = 4; k < n && why.size() < 900; ++k) why << line[k];
            why << ' ';
        }
        line = end ? end + 1 : line + n;
    }
    FAIL() << "with HMALLOC_CHECK=full (a fresh suite process, exit status " << status << "): "
           << (why.size() ? why.c_str() : "no diagnostic; output: ") << (why.size() ? "" : out);
    return false;
}

}  // namespace

// ---- the free list -------------------------------------------------------------------------

namespace {
unsigned char target[256] __attribute__((aligned(16)));  // a static buffer, as a plausible address
void* damaged = nullptr;  // the freed block whose first word the program overwrote

void plant_and_allocate() {
    std::memcpy(damaged, &planted, sizeof planted);
    allocate_on();
}

// A link saved while it was valid and written back later: `damaged` (y)
// and `planted` (x) are freed, y last, so y's link leads to x; the word is
// saved, both blocks are allocated again, y is freed again and the old word
// written back. It leads to x, live now: malloc must not hand x out twice.
void replay_stale_link() {
    hfree(planted);
    hfree(damaged);
    std::uintptr_t saved = 0;
    std::memcpy(&saved, damaged, sizeof saved);
    void* first = hmalloc(SMALL);
    void* second = hmalloc(SMALL);
    if (!((first == damaged && second == planted) || (first == planted && second == damaged))) {
        note("the two blocks freed last were not the next two allocated: nothing to replay");
        return;
    }
    hfree(damaged);
    std::memcpy(damaged, &saved, sizeof saved);
    allocate_on();
}
}  // namespace

TEST(hardening, corrupted_free_list_refused) {
    // A program overwrites the first word of a block it has freed (where a
    // free list links it to the next) with an address: another block, still
    // live; a static buffer; another freed block, further down the list; and
    // a link it saved before, which leads to a block live again. malloc must
    // not hand that address out: it aborts, naming the freed block whose
    // link was overwritten.
    static Block blocks[8];
    for (auto& b : blocks) b = alloc_filled(SMALL);
    hfree(blocks[6].p);
    hfree(blocks[1].p);
    hfree(blocks[3].p);  // freed last: the first a free list of the last freed first reaches
    damaged = blocks[3].p;
    planted = blocks[5].p;
    expect_abort("a free-list link overwritten with a live block's address", plant_and_allocate, "malloc",
                 {"corrupted"}, damaged);
    planted = target;
    expect_abort("a free-list link overwritten with a static buffer's address", plant_and_allocate, "malloc",
                 {"corrupted"}, damaged);
    planted = blocks[6].p;
    expect_abort("a free-list link overwritten with a freed block's address", plant_and_allocate, "malloc",
                 {"corrupted"}, damaged);
    damaged = blocks[4].p;
    planted = blocks[2].p;
    expect_abort("a stale free-list link written back", replay_stale_link, "malloc", {"corrupted"}, damaged);
    check_intact(blocks[5]);
}

namespace {
std::atomic<int> remote_step{0};
void* remote_blocks[2] = {};

// The owner: allocates two blocks, waits while another thread frees them
// and writes into one, then allocates on, past a page's worth, so that the
// blocks freed by the other thread come back to it.
void* owner_thread(void*) {
    remote_blocks[0] = hmalloc(SMALL);
    remote_blocks[1] = hmalloc(SMALL);
    remote_step.store(1);
    while (remote_step.load() != 2) ::usleep(100);
    planted = nullptr;
    for (int i = 0; i < 4096; ++i) {
        if (hmalloc(SMALL) == nullptr) break;
    }
    note("malloc went on as if nothing had happened");
    return nullptr;
}

void free_remotely_then_write() {
    pthread_t owner;
    if (pthread_create(&owner, nullptr, owner_thread, nullptr) != 0) {
        note("pthread_create failed");
        return;
    }
    while (remote_step.load() != 1) ::usleep(100);
    hfree(remote_blocks[0]);
    hfree(remote_blocks[1]);
    damaged = remote_blocks[1];
    const std::uint64_t value = 42;
    std::memcpy(damaged, &value, sizeof value);  // through a dangling pointer, after free
    remote_step.store(2);
    pthread_join(owner, nullptr);
}
}  // namespace

TEST(hardening, write_after_free_by_another_thread_caught) {
    // The write after free again, on a block freed by a thread that is not
    // the one that allocated it: where such a block waits on a list of its
    // own (for its owner to take back), that list's link is checked too.
    // The child runs the two threads, so the parent does not know the
    // block: the message must name the call and the problem.
    expect_abort("a write after free of a block freed by another thread", free_remotely_then_write, "malloc",
                 {"corrupted", "write after free"}, nullptr);
}

// ---- overflow into the next block ------------------------------------------------------------

namespace {
Pair pair{};
const char OVERFLOW[] = "AAAAAAAA";  // 8 bytes past the SMALL bytes asked for, as a string copy that runs over

void overflow() { std::memcpy(pair.a.p + SMALL, OVERFLOW, 8); }
void overflow_and_allocate() {
    overflow();
    planted = nullptr;
    allocate_on();
}
void overflow_and_free_a() {
    overflow();
    hfree(pair.a.p);
    note("free of the block that ran over returned");
}
void overflow_and_free_b() {
    overflow();
    hfree(pair.b.p);
    note("free of the block after it returned");
}
}  // namespace

TEST(hardening, overflow_into_free_block_caught) {
    // A program writes 8 bytes past the 64 it asked for, into the block
    // after it, which is free: where that block's first word links it into
    // a free list, the damage must be caught when the list reaches it (at
    // the latest), never followed.
    static Block blocks[16];
    pair = neighbours(blocks, 16);
    hfree(pair.b.p);
    expect_abort("an overflow into a free block", overflow_and_allocate, "malloc", {"corrupted", "overflow"},
                 pair.b.p);
}

TEST(hardening, overflow_into_live_block_caught_with_option) {
    // The same overflow into a block still live: nothing of the free list
    // lies there, so only a canary between blocks (HMALLOC_CHECK=full) sees
    // it, at the next free of either block.
    if (!with_option("hardening.overflow_into_live_block_caught_with_option")) return;
    static Block blocks[16];
    pair = neighbours(blocks, 16);
    expect_abort("an overflow into a live block, then free of the block that ran over", overflow_and_free_a, "free",
                 {"overflow"}, pair.a.p);
    expect_abort("an overflow into a live block, then free of that block", overflow_and_free_b, "free", {"overflow"},
                 pair.a.p);
}

// ---- write after free ----------------------------------------------------------------------

namespace {
std::size_t written_at = 0;  // the offset in the freed block the program writes to

void write_after_free_and_allocate() {
    const std::uint64_t value = 42;  // a counter decremented, a field set, through a dangling pointer
    std::memcpy(static_cast<unsigned char*>(damaged) + written_at, &value, sizeof value);
    planted = nullptr;
    allocate_on();
}
}  // namespace

TEST(hardening, write_after_free_caught) {
    // A program writes to the first word of a block it has freed (its first
    // field, through a dangling pointer): caught no later than the block's
    // next allocation, never followed.
    static Block blocks[8];
    for (auto& b : blocks) b = alloc_filled(SMALL);
    hfree(blocks[4].p);
    damaged = blocks[4].p;
    written_at = 0;
    expect_abort("a write after free", write_after_free_and_allocate, "malloc", {"corrupted", "write after free"},
                 damaged);
}

TEST(hardening, write_after_free_anywhere_caught_with_option) {
    // The same write further into the freed block (bytes 40 to 47 of 64):
    // only a check of every freed byte (HMALLOC_CHECK=full) sees it, when the
    // block is handed out again.
    if (!with_option("hardening.write_after_free_anywhere_caught_with_option")) return;
    static Block blocks[8];
    for (auto& b : blocks) b = alloc_filled(SMALL);
    hfree(blocks[4].p);
    damaged = blocks[4].p;
    written_at = 40;
    expect_abort("a write after free into the middle of the block", write_after_free_and_allocate, "malloc",
                 {"write after free"}, damaged);
}

// ---- large blocks ---------------------------------------------------------------------------

namespace {
constexpr std::size_t LARGE = std::size_t{200} << 10;  // mapped from stage 09 on; a multiple of any page size
unsigned char* large = nullptr;
std::size_t large_usable = 0;

std::size_t usable_of(void* p, std::size_t asked) {
    return api.malloc_usable_size != nullptr ? api.malloc_usable_size(p) : asked;
}

void write_past_large_end();

void grow_and_write_past_end() {
    void* grown = hrealloc(large, 2 * LARGE);
    if (grown == nullptr) {
        note("hrealloc to twice the size returned NULL");
        return;
    }
    large = static_cast<unsigned char*>(grown);
    large_usable = usable_of(large, 2 * LARGE);
    write_past_large_end();
}
void shrink_and_write_past_end() {
    void* shrunk = hrealloc(large, LARGE - (std::size_t{64} << 10));
    if (shrunk == nullptr) {
        note("hrealloc to a smaller size returned NULL");
        return;
    }
    large = static_cast<unsigned char*>(shrunk);
    large_usable = usable_of(large, LARGE - (std::size_t{64} << 10));
    write_past_large_end();
}

void write_past_large_end() {
    // Only a write that lands in the block's own mapping says something:
    // past a mapping's end lies whatever the kernel put there (often the
    // last mapping, writable; sometimes nothing, or a library's gap), so the
    // child does not write when the byte is outside it.
    if (!mmap_double_is_mapped(large, large_usable + 1)) {
        note("the byte past the block's end is outside the block's mapping: no guard page of the allocator's stops a "
             "write there");
        return;
    }
    large[large_usable] = 1;
    note("the write past the block's end succeeded");
}
}  // namespace

TEST(hardening, large_block_overflow_faults) {
    // A write just past the usable end of a large block (p +
    // malloc_usable_size(p)) faults: a guard page ends the block's mapping.
    // So it does after hrealloc has grown or shrunk the block in place.
    large = static_cast<unsigned char*>(hmalloc(LARGE));
    CHECK(large != nullptr);
    large_usable = usable_of(large, LARGE);
    std::memset(large, 0x5a, large_usable);
    expect_fault("a write past the end of a large block", write_past_large_end);
    if (api.hrealloc != nullptr) {
        expect_fault("a write past the end of a large block grown by hrealloc", grow_and_write_past_end);
        expect_fault("a write past the end of a large block shrunk by hrealloc", shrink_and_write_past_end);
    }
    hfree(large);
}
