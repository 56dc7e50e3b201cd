// tests/harness.hpp: the little test framework every tests/*.cpp uses.
//
// Not part of any lesson. One binary tests every stage: it loads the stage
// with dlopen, runs each test in its own forked process with a time limit and
// prints TAP (see harness.cpp). A test body sees the allocator only from
// outside: its API (through `api`), hwalk, and the sbrk double
// (common/sbrk_double.h), which counts the allocator's calls and can refuse
// them.
//
// Rules for a test body:
//  - never call malloc, directly or through a library that might (no
//    std::string, no printf): when a stage is preloaded as the process's
//    malloc that would be the allocator under test. Use static arrays.
//  - do not assume the heap is empty at the start: measure from `start`
//    (the break and blocks when the test began).
//  - a failed CHECK ends the test at once, with file:line, the expression,
//    both values and whatever was streamed into it:
//        CHECK_EQ(q, p) << "the freed block was not reused";
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <source_location>
#include <type_traits>

#include <unistd.h>

#include "hmalloc_api.h"
#include "mmap_double.h"
#include "sbrk_double.h"

namespace suite {

// Where a helper was called from: its failures name the test's line, not
// the harness's.
using Where = std::source_location;

// ---- the stage under test ---------------------------------------------------------

// What harness.cpp loaded: every stage has hmalloc, hfree and hwalk; the
// others are null where the stage lacks them.
struct Api : hm::test::Api {
    // The standard names, defined by a stage that can replace malloc (07 on).
    void* (*malloc)(std::size_t) = nullptr;
    void (*free)(void*) = nullptr;
    int (*posix_memalign)(void**, std::size_t, std::size_t) = nullptr;
    void* (*aligned_alloc)(std::size_t, std::size_t) = nullptr;
    void* (*memalign)(std::size_t, std::size_t) = nullptr;
    void* (*valloc)(std::size_t) = nullptr;
    void* (*pvalloc)(std::size_t) = nullptr;
    std::size_t (*malloc_usable_size)(void*) = nullptr;
};
extern Api api;
extern const char* library_path;  // --stage, or --lib
extern const char* header_path;   // the stage's hmalloc.h, or null

// ---- any allocator (make check LIB=...) ---------------------------------------------
// With --lib instead of --stage the suite checks an allocator that is not a
// stage: its names carry --prefix ("h", "os_", or none: the standard names),
// hwalk is optional, and a test can be "not applicable" (TAP # SKIP): one
// that needs what the library lacks or was not seen to use (see
// tests/check/tests.txt). A stage never skips.
extern bool checking_any;     // --lib
extern const char* prefix;    // "h" for a stage
// Ends the test as not applicable, with the reason; in a stage's run it
// is a failure instead (a stage has everything a test needs).
[[noreturn]] void not_applicable(const char* why);
// The text a missing function's test reports: "stage has no hcalloc", or
// with --lib "the library has no os_calloc" (both contain "has no").
const char* lacks(const char* api_field);

// ---- registering tests ----------------------------------------------------------

using TestFn = void (*)();
struct Registrar {
    Registrar(const char* name, TestFn fn);
};

// TEST(trim, lowers_break) { ... } defines the test "trim.lowers_break".
#define TEST(area, behaviour)                                                                 \
    static void test_##area##_##behaviour();                                                  \
    static const ::suite::Registrar registrar_##area##_##behaviour(#area "." #behaviour,      \
                                                                    test_##area##_##behaviour); \
    static void test_##area##_##behaviour()

// ---- text without malloc --------------------------------------------------------------

class Text {
public:
    Text& operator<<(const char* s);
    Text& operator<<(char c);
    Text& operator<<(std::nullptr_t) { return *this << "NULL"; }
    Text& operator<<(const Text& t) { return *this << t.c_str(); }
    template <class T>
        requires std::is_integral_v<T>
    Text& operator<<(T v) {
        if constexpr (std::is_same_v<T, bool>) {
            return *this << (v ? "true" : "false");
        } else if constexpr (std::is_signed_v<T>) {
            if (v < 0) *this << '-';
            auto u = static_cast<unsigned long long>(v);
            return unsigned_number(v < 0 ? 0 - u : u);
        } else {
            return unsigned_number(static_cast<unsigned long long>(v));
        }
    }
    template <class T>
    Text& operator<<(T* p) {
        return pointer(reinterpret_cast<std::uintptr_t>(p));
    }
    Text& hex(unsigned long long v);
    const char* c_str() const { return buf_; }
    std::size_t size() const { return len_; }
    void clear() { len_ = 0, buf_[0] = '\0'; }

private:
    Text& unsigned_number(unsigned long long v);
    Text& pointer(std::uintptr_t v);
    char buf_[1024] = {};
    std::size_t len_ = 0;
};

// ---- checks -----------------------------------------------------------------------

// A failed check: collects a message and, when the full expression ends,
// reports it to the harness and ends the test process.
class Failure {
public:
    Failure(const char* file, long line, const char* expr, const char* values = nullptr);
    ~Failure();  // reports, then _exit(1)
    Failure(const Failure&) = delete;
    Failure& operator=(const Failure&) = delete;
    template <class T>
    Failure& operator<<(const T& v) {
        message_ << v;
        return *this;
    }

private:
    Text message_;
};

// char pointers compared are addresses, not strings.
template <class T>
const T& as_value(const T& v) {
    return v;
}
inline const void* as_value(const char* p) { return p; }
inline const void* as_value(char* p) { return p; }
inline const void* as_value(const unsigned char* p) { return p; }
inline const void* as_value(unsigned char* p) { return p; }

struct Comparison {
    bool ok;
    Text values;
};
template <class A, class B, class Op>
Comparison compare(const A& a, const B& b, Op op) {
    Comparison c{op(a, b), {}};
    if (!c.ok) c.values << as_value(a) << " vs " << as_value(b);
    return c;
}

// The location a failure reports: the line of the CHECK, except inside the
// harness's helpers, which report their caller's line (harness.cpp).
#define HM_FILE __FILE__
#define HM_LINE __LINE__

#define CHECK(cond) \
    if (cond) {     \
    } else          \
        ::suite::Failure(HM_FILE, HM_LINE, #cond)

#define HM_CHECK_OP(a, op, b)                                                                      \
    if (const ::suite::Comparison hm_cmp_ =                                                          \
            ::suite::compare((a), (b), [](const auto& x, const auto& y) { return x op y; });        \
        hm_cmp_.ok) {                                                                              \
    } else                                                                                         \
        ::suite::Failure(HM_FILE, HM_LINE, #a " " #op " " #b, hm_cmp_.values.c_str())

#define CHECK_EQ(a, b) HM_CHECK_OP(a, ==, b)
#define CHECK_NE(a, b) HM_CHECK_OP(a, !=, b)
#define CHECK_LT(a, b) HM_CHECK_OP(a, <, b)
#define CHECK_LE(a, b) HM_CHECK_OP(a, <=, b)
#define CHECK_GT(a, b) HM_CHECK_OP(a, >, b)
#define CHECK_GE(a, b) HM_CHECK_OP(a, >=, b)
#define FAIL() ::suite::Failure(HM_FILE, HM_LINE, nullptr)

// The test needs a function the stage may not have: without it, the test
// fails saying so (and the stage's limitations.txt lists it). With --lib it
// is not applicable instead, saying the library has no such function.
#define NEED(fn)                                                        \
    if (::suite::api.fn != nullptr) {                                   \
    } else if (::suite::checking_any) {                                 \
        ::suite::not_applicable(::suite::lacks(#fn));                   \
    } else                                                              \
        ::suite::Failure(HM_FILE, HM_LINE, nullptr) << ::suite::lacks(#fn)

// ---- calling the allocator ------------------------------------------------------------
// Plain calls through `api`; those a stage may lack fail the test if missing.

void* hmalloc(std::size_t size);
void hfree(void* ptr);
void* hcalloc(std::size_t nmemb, std::size_t size, Where at = Where::current());
void* hrealloc(void* ptr, std::size_t size, Where at = Where::current());
void* hreallocarray(void* ptr, std::size_t nmemb, std::size_t size, Where at = Where::current());

// ---- blocks with a fill pattern -------------------------------------------------------
//
// Every block a test owns is filled with a pattern unique to it (byte i is
// tag + i + i/256), so a block overwritten by a neighbour, moved by the
// wrong offset or handed out twice is caught by check_intact().

struct Block {
    unsigned char* p = nullptr;
    std::size_t n = 0;
    unsigned tag = 0;
};

unsigned next_tag();
void fill(Block& b);  // gives `b` a fresh tag and writes its pattern
void check_intact(const Block& b, const char* what = "block", Where at = Where::current());
void check_intact(const Block* blocks, std::size_t count, const char* what = "block", Where at = Where::current());
inline void check_intact(std::initializer_list<Block> l, const char* what = "block", Where at = Where::current()) {
    check_intact(l.begin(), l.size(), what, at);
}
// The first `n` bytes of `b` still hold its pattern (after hrealloc).
void check_prefix_intact(const Block& b, std::size_t n, const char* what, Where at = Where::current());
void check_zero(const void* p, std::size_t n, const char* what, Where at = Where::current());

// hmalloc(n) must succeed; the block is filled.
Block alloc_filled(std::size_t n, Where at = Where::current());
// Memory taken by "someone else" moving the break (the double's foreign
// call), filled with a pattern of its own.
Block foreign_block(std::size_t n, Where at = Where::current());

// [a, a+max(an,1)) and [b, b+max(bn,1)) overlap (a zero-size block still
// owns its address).
bool overlap(const void* a, std::size_t an, const void* b, std::size_t bn);
// The median distance between neighbouring blocks of `blocks`, sorted by
// address: what one block costs when blocks asked for one after the other lie
// side by side (the median ignores the few that landed elsewhere).
std::size_t median_distance(const Block* blocks, std::size_t count, Where at = Where::current());
// No two of `blocks` overlap or share an address.
void check_disjoint(const Block* blocks, std::size_t count, Where at = Where::current());
inline void check_disjoint(std::initializer_list<Block> l, Where at = Where::current()) {
    check_disjoint(l.begin(), l.size(), at);
}

// ---- the heap seen through hwalk ---------------------------------------------------------

using BlockInfo = hm_block_info;
constexpr std::size_t MAX_WALK = 1 << 15;

struct Walk {
    std::size_t count = 0;
    bool overflow = false;
    BlockInfo blocks[MAX_WALK];

    std::size_t used() const;
    std::size_t free_blocks() const;
    const BlockInfo* find(const void* payload) const;  // the block with this payload, or null
};

// hwalk into `w` (a static object: a Walk is too big for the stack). With
// --lib and a library without hwalk, the test is not applicable; check_walk
// then checks nothing (its checks are extra ones, on top of the test's own).
void walk(Walk& w, Where at = Where::current());
// A walk into the harness's own buffer, valid until the next call.
const Walk& walk_now(Where at = Where::current());
// The same for hwalk_mapped (stage 09 on: large blocks in mappings of their
// own); empty for a stage without it.
const Walk& walk_mapped_now(Where at = Where::current());

// What a consistent heap looks like from outside: blocks in increasing
// address order, not overlapping, each payload right after its header, all
// between the region's start and the break; the mapped blocks (hwalk_mapped)
// likewise, each inside a live mapping the stage made; every block in `live`
// is a used block (of either walk) whose payload is the pointer and whose
// size is at least the request; no block covers any of the `foreign`
// memory. With `exact`, the used blocks are exactly the ones in use at the
// start of the test plus `live`.
struct WalkCheck {
    const Block* live = nullptr;
    std::size_t live_count = 0;
    const Block* foreign = nullptr;
    std::size_t foreign_count = 0;
    bool exact = false;
};
void check_walk(const WalkCheck& c, Where at = Where::current());
inline void check_walk(const Block* live = nullptr, std::size_t n = 0, bool exact = false,
                       Where at = Where::current()) {
    check_walk(WalkCheck{live, n, nullptr, 0, exact}, at);
}
inline void check_walk(std::initializer_list<Block> live, bool exact = false,
                       std::initializer_list<Block> foreign = {}, Where at = Where::current()) {
    check_walk(WalkCheck{live.begin(), live.size(), foreign.begin(), foreign.size(), exact}, at);
}

// ---- the sbrk double ---------------------------------------------------------------------

// The allocator's sbrk calls since a mark.
struct Mark {
    sbrk_double_stats at;
    char* brk;
};
Mark mark();
struct Since {
    unsigned long calls, queries, grows, shrinks, refused;
    std::size_t grown_bytes, shrunk_bytes;
};
Since since(const Mark& m);
char* current_break();
// Both doubles: let `grants` more growth calls succeed (sbrk, and mmap or a
// growing mremap), then refuse them; a negative value refuses nothing.
void refuse_os_after(long grants);

// ---- the state at the start of the test -------------------------------------------------

// Before every test the harness plugs any free block left in the heap (only
// a preloaded stage starts with one: the harness's own allocations), so a
// test starts as if the heap were empty: new blocks go at the break.
// Allocates every free block there is (in pieces of at most HEAP_PIECE), so
// that the next request must grow the heap. begin_test() does it; a test
// that allocated since (threads it created, say) may do it again.
void plug_free_blocks();

// Holds a thread inside the allocator: plugs the free blocks, tells the
// sbrk double to hold the next sbrk call, sets `go` (the thread waits for it,
// then makes a request that must grow the break heap) and waits, at most 5
// seconds, until the double holds it. The test fails if the thread does not
// get there (`returned`: it came back without calling sbrk). The test lets it
// go with sbrk_double_release().
void hold_in_sbrk(std::atomic<bool>& go, const std::atomic<bool>& returned, Where at = Where::current());

struct StartState {
    char* brk;
    std::size_t blocks;
    std::size_t used;
    std::size_t mapped;  // blocks in hwalk_mapped
};
extern StartState start;

// ---- time, the memory held, fork ---------------------------------------------------------

double now_seconds();  // CLOCK_MONOTONIC
void sleep_ms(long ms);
// Bytes the allocator holds from the OS now, beyond what it held when the
// test began: the break above start.brk, plus what is mapped through the
// mmap double beyond `live_at_start` (mmap_double_get_stats().live_bytes
// when the test began: a stage's mappings and pages).
std::size_t held_since(std::size_t live_at_start);
// One fork: the child runs `in_child` under alarm(3) and exits 0 (a failed
// CHECK in it exits 1); the parent waits for it, under alarm(3) too (a hang
// in fork or a fork handler ends the test with a message). Returns the
// child's status.
int fork_and_wait(void (*in_child)(), Where at = Where::current());
// How a child (of fork) ended, in words, for a failure message; valid until
// the next call.
Text& ended(int status);

// ---- stderr -----------------------------------------------------------------------------

// Collects what is written to fd 2 between begin() and end().
class StderrCapture {
public:
    void begin(Where at = Where::current());
    void end();
    const char* text() const { return buf_; }
    bool empty() const { return len_ == 0; }
    // Case-insensitive substring test.
    bool contains(const char* needle) const;
    // Mentions `p` as a hex number ("0x..." with or without leading zeros).
    bool mentions_pointer(const void* p) const;

private:
    int saved_ = -1;
    int read_fd_ = -1;
    char buf_[8192] = {};
    std::size_t len_ = 0;
};

// Hands `p` to hfree expecting a refusal. A stage may refuse by a message on
// stderr and carry on with the heap intact, or by a message and abort() (as
// glibc and stage 07 do). The call is first tried in a forked probe process;
// if that aborts with a message naming one of `problems` and the pointer,
// this returns Outcome::aborted and the test has nothing more to check. If it
// returns, the call is made again here, its message checked, and this
// returns Outcome::continued: the test then checks the heap is intact.
// A crash, a silent return or a message not naming the problem fail the test.
enum class Outcome { aborted, continued };
Outcome refused_free(void* p, std::initializer_list<const char*> problems, Where at = Where::current());
// The same for any call that takes `p`: `call(p)` runs in the probe, then here.
Outcome refused_call(const char* name, void (*call)(void*), void* p, std::initializer_list<const char*> problems,
                     Where at = Where::current());

// What a test is doing, printed under any failure (the random tests set it
// to the seed and operation, so a failure can be replayed).
Text& context();

// ---- randomness -------------------------------------------------------------------------

// splitmix64: small, seedable, the same sequence everywhere.
class Random {
public:
    explicit Random(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next();
    std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
    bool chance(unsigned percent) { return below(100) < percent; }

private:
    std::uint64_t state_;
};

constexpr std::size_t ALIGNMENT = 16;

// Part II keeps some free memory at the top of the heap for the next requests
// instead of giving every free byte back at once (stage 08 keeps at most 256
// KiB; glibc 128 KiB by default). A test that checks the break comes down
// frees far more than this, and lets this much stay.
constexpr std::size_t TOP_KEPT_MAX = std::size_t{1} << 20;
// A block size every stage serves from the break heap: below any stage's
// threshold for giving a request a mapping of its own (stage 09: 128 KiB).
constexpr std::size_t HEAP_PIECE = std::size_t{64} << 10;
// Allocates `count` blocks of HEAP_PIECE bytes, filled; frees them top down.
void alloc_pieces(Block* out, std::size_t count, Where at = Where::current());
void free_pieces_top_down(Block* pieces, std::size_t count);
inline bool aligned(const void* p, std::size_t a = ALIGNMENT) {
    return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

}  // namespace suite
