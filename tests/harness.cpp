// tests/harness.cpp: runs the suite against one stage and prints TAP.
//
// Not part of any lesson.
//
//   build/tests/suite --stage build/03/libhmalloc.so
//       --limitations stages/03-trimming-free/limitations.txt
//       [--header stages/03-trimming-free/hmalloc.h] [--only NAME]... [--timeout S]
//   build/tests/suite --list
//   build/tests/suite --lib LIB [--prefix os_] [--table tests/check/tests.txt]
//       [--limitations tests/check/differences.txt]      (make check LIB=...)
//
// Every test runs in a forked child: a fresh copy of the heap (the stage is
// loaded, but only the children call it), a time limit, and a crash is a
// result. The child's stdout and stderr go to a pipe; the parent prints them
// as TAP diagnostics under the test's line, so a learner sees which check
// failed, where, and with which values, known limitations included.
//
// limitations.txt: one line per test the stage is known to fail,
//     test.name | fails with | why, in one line | JOURNAL.md#anchor
// ('#' starts a comment). "fails with" is a piece of the failing test's
// report: its own output, or, when the test process was killed by a signal,
// timed out or exited with a status other than 1 (a failed check's), the
// harness's line about that ("crashed: killed by SIGSEGV", "timed out
// after"), and then only that line. A listed test that fails and whose
// report contains it is "not ok ... # TODO why (anchor)", which TAP counts
// as expected. A listed test that fails otherwise (a crash its line does not
// name, say) is a plain "not ok", and so is one that passes: the list is out
// of date. A line without its four fields stops the run (Bail out!).
//
// With --lib (tests/check/check) the library is any allocator: its functions
// are PREFIXmalloc, PREFIXfree, ... (no prefix: the standard names), hwalk is
// optional. A probe run counts its calls to the OS first; a test that needs
// what the library lacks or was not seen to use is "ok ... # SKIP why" (not
// applicable), decided from the table's needs or inside the test (NEED, a
// walk without hwalk). A "design" test that fails is "# TODO design: idea",
// a "must" test that fails is a plain "not ok", unless --limitations (here:
// the legitimate differences) names its failure: "# TODO differs: why".
//
// The exit status is 0 when every test did what was expected.
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "harness.hpp"

// Checks in the helpers below report the caller's line: each helper takes
// `Where at` (or defines it).
#undef HM_FILE
#undef HM_LINE
#define HM_FILE at.file_name()
#define HM_LINE at.line()

namespace suite {

Api api;
const char* library_path = nullptr;
const char* header_path = nullptr;
StartState start;
bool checking_any = false;
const char* prefix = "h";

namespace {

// ---- the registry -------------------------------------------------------------------

struct TestCase {
    const char* name;
    TestFn fn;
};
constexpr std::size_t MAX_TESTS = 512;
constinit TestCase tests[MAX_TESTS] = {};
constinit std::size_t test_count = 0;

// Where a test child reports failures: its stdout/stderr pipe, kept on a
// descriptor of its own so a test may redirect fd 2.
constinit int report_fd = 2;

void write_all(int fd, const char* s, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= static_cast<std::size_t>(w);
    }
}
void write_str(int fd, const char* s) { write_all(fd, s, std::strlen(s)); }

}  // namespace

Registrar::Registrar(const char* name, TestFn fn) {
    if (test_count == MAX_TESTS) {
        write_str(2, "suite: too many tests; raise MAX_TESTS\n");
        _exit(2);
    }
    tests[test_count++] = TestCase{name, fn};
}

// ---- Text --------------------------------------------------------------------------

Text& Text::operator<<(const char* s) {
    if (s == nullptr) s = "(null)";
    while (*s != '\0') *this << *s++;
    return *this;
}

Text& Text::operator<<(char c) {
    if (len_ + 1 < sizeof buf_) {
        buf_[len_++] = c;
        buf_[len_] = '\0';
    }
    return *this;
}

Text& Text::unsigned_number(unsigned long long v) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) *this << digits[--n];
    return *this;
}

Text& Text::hex(unsigned long long v) {
    static constexpr char HEX[] = "0123456789abcdef";
    *this << "0x";
    bool started = false;
    for (int shift = 60; shift >= 0; shift -= 4) {
        unsigned d = static_cast<unsigned>(v >> shift) & 0xf;
        if (d != 0 || started || shift == 0) {
            *this << HEX[d];
            started = true;
        }
    }
    return *this;
}

Text& Text::pointer(std::uintptr_t v) {
    if (v == 0) return *this << "NULL";
    return hex(v);
}

// ---- Failure -------------------------------------------------------------------------

namespace {
constinit const char* failure_file = nullptr;
constinit long failure_line = 0;
constinit const char* failure_expr = nullptr;
constinit const char* failure_values = nullptr;
}  // namespace

Failure::Failure(const char* file, long line, const char* expr, const char* values) {
    failure_file = file;
    failure_line = line;
    failure_expr = expr;
    failure_values = values;
}

Failure::~Failure() {
    static Text line;
    line.clear();
    line << failure_file << ':' << failure_line << ": ";
    if (failure_expr != nullptr) {
        line << "check failed: " << failure_expr;
        if (failure_values != nullptr && failure_values[0] != '\0') line << " [" << failure_values << "]";
        if (message_.size() > 0) line << ": ";
    }
    line << message_ << '\n';
    if (context().size() > 0) line << "  while: " << context() << '\n';
    write_all(report_fd, line.c_str(), line.size());
    _exit(1);
}

// ---- any allocator ------------------------------------------------------------------

// A test child that is not applicable exits with this status, its reason on
// the report pipe after NA_MARK.
constexpr int NA_STATUS = 3;
constexpr char NA_MARK[] = "not applicable: ";

void not_applicable(const char* why) {
    if (!checking_any) {
        ::suite::Failure(__FILE__, __LINE__, nullptr) << why;
    }
    static Text line;
    line.clear();
    line << NA_MARK << why << '\n';
    write_all(report_fd, line.c_str(), line.size());
    _exit(NA_STATUS);
}

const char* lacks(const char* field) {
    static Text t;
    t.clear();
    if (!checking_any) return (t << "stage has no " << field).c_str();
    // The prefixed entries of Api carry the library's prefix; the others
    // (malloc, posix_memalign, ...) are the standard names.
    bool prefixed = false;
    for (const char* f : {"hmalloc", "hfree", "hcalloc", "hrealloc", "hreallocarray"})
        prefixed = prefixed || std::strcmp(f, field) == 0;
    t << "the library has no ";
    if (prefixed) {
        t << prefix << field + 1;
    } else {
        t << field;
    }
    return t.c_str();
}

// ---- calling the allocator -----------------------------------------------------------

void* hmalloc(std::size_t size) { return api.hmalloc(size); }
void hfree(void* ptr) { api.hfree(ptr); }
void* hcalloc(std::size_t nmemb, std::size_t size, Where at) {
    NEED(hcalloc);
    return api.hcalloc(nmemb, size);
}
void* hrealloc(void* ptr, std::size_t size, Where at) {
    NEED(hrealloc);
    return api.hrealloc(ptr, size);
}
void* hreallocarray(void* ptr, std::size_t nmemb, std::size_t size, Where at) {
    NEED(hreallocarray);
    return api.hreallocarray(ptr, nmemb, size);
}

// ---- blocks ------------------------------------------------------------------------------

namespace {
constinit unsigned tag_counter = 0;
inline unsigned char pattern(unsigned tag, std::size_t i) {
    return static_cast<unsigned char>(tag + i + (i >> 8));
}
}  // namespace

unsigned next_tag() { return __atomic_add_fetch(&tag_counter, 1u, __ATOMIC_RELAXED) * 97u + 13u; }

void fill(Block& b) {
    b.tag = next_tag();
    for (std::size_t i = 0; i < b.n; ++i) b.p[i] = pattern(b.tag, i);
}

void check_prefix_intact(const Block& b, std::size_t n, const char* what, Where at) {
    // The OR of all differences vectorises; the slow search runs only on failure.
    unsigned char bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad |= static_cast<unsigned char>(b.p[i] ^ pattern(b.tag, i));
    if (bad == 0) return;
    std::size_t i = 0;
    while (b.p[i] == pattern(b.tag, i)) ++i;
    FAIL() << what << " at " << b.p << " (" << b.n << " bytes) was changed: byte " << i << " is "
           << static_cast<unsigned>(b.p[i]) << ", expected " << static_cast<unsigned>(pattern(b.tag, i));
}

void check_intact(const Block& b, const char* what, Where at) { check_prefix_intact(b, b.n, what, at); }

void check_intact(const Block* blocks, std::size_t count, const char* what, Where at) {
    for (std::size_t i = 0; i < count; ++i) check_prefix_intact(blocks[i], blocks[i].n, what, at);
}

void check_zero(const void* p, std::size_t n, const char* what, Where at) {
    auto* bytes = static_cast<const unsigned char*>(p);
    unsigned char any = 0;
    for (std::size_t i = 0; i < n; ++i) any |= bytes[i];
    if (any == 0) return;
    std::size_t i = 0;
    while (bytes[i] == 0) ++i;
    FAIL() << what << " at " << p << " (" << n << " bytes) is not zeroed: byte " << i << " is "
           << static_cast<unsigned>(bytes[i]);
}

Block alloc_filled(std::size_t n, Where at) {
    errno = 0;
    void* p = api.hmalloc(n);
    CHECK(p != nullptr) << "hmalloc(" << n << ") returned NULL (errno " << errno << ")";
    Block b{static_cast<unsigned char*>(p), n, 0};
    fill(b);
    return b;
}

void alloc_pieces(Block* out, std::size_t count, Where at) {
    for (std::size_t i = 0; i < count; ++i) out[i] = alloc_filled(HEAP_PIECE, at);
}

void free_pieces_top_down(Block* pieces, std::size_t count) {
    for (std::size_t i = count; i-- > 0;) api.hfree(pieces[i].p);
}

Block foreign_block(std::size_t n, Where at) {
    void* p = sbrk_double_foreign(static_cast<intptr_t>(n));
    CHECK(p != reinterpret_cast<void*>(-1)) << "the sbrk double refused a foreign move of " << n;
    Block b{static_cast<unsigned char*>(p), n, 0};
    fill(b);
    return b;
}

bool overlap(const void* a, std::size_t an, const void* b, std::size_t bn) {
    auto x = reinterpret_cast<std::uintptr_t>(a);
    auto y = reinterpret_cast<std::uintptr_t>(b);
    if (an == 0) an = 1;
    if (bn == 0) bn = 1;
    return x < y + bn && y < x + an;
}

std::size_t median_distance(const Block* blocks, std::size_t count, Where at) {
    constexpr std::size_t MAX = 16384;  // static arrays: no malloc
    static std::uintptr_t addr[MAX];
    static std::size_t gaps[MAX];
    CHECK(count >= 2 && count <= MAX) << "median_distance of " << count << " blocks";
    for (std::size_t i = 0; i < count; ++i) addr[i] = reinterpret_cast<std::uintptr_t>(blocks[i].p);
    std::sort(addr, addr + count);
    for (std::size_t i = 0; i + 1 < count; ++i) gaps[i] = addr[i + 1] - addr[i];
    std::nth_element(gaps, gaps + (count - 1) / 2, gaps + count - 1);
    return gaps[(count - 1) / 2];
}

void check_disjoint(const Block* blocks, std::size_t count, Where at) {
    // Sort indices by address (insertion sort into a static array: no malloc).
    static std::size_t order[MAX_WALK];
    CHECK_LE(count, MAX_WALK);
    for (std::size_t i = 0; i < count; ++i) {
        std::size_t j = i;
        while (j > 0 && blocks[order[j - 1]].p > blocks[i].p) {
            order[j] = order[j - 1];
            --j;
        }
        order[j] = i;
    }
    for (std::size_t k = 1; k < count; ++k) {
        const Block& a = blocks[order[k - 1]];
        const Block& b = blocks[order[k]];
        CHECK(!overlap(a.p, a.n, b.p, b.n)) << "live blocks overlap: " << a.p << " (" << a.n << " bytes) and "
                                            << b.p << " (" << b.n << " bytes)";
    }
}

// ---- walking -------------------------------------------------------------------------------

namespace {
void collect(const hm_block_info* info, void* ctx) {
    auto* w = static_cast<Walk*>(ctx);
    if (w->count == MAX_WALK) {
        w->overflow = true;
        return;
    }
    w->blocks[w->count++] = *info;
}
}  // namespace

std::size_t Walk::used() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count; ++i) n += blocks[i].free == 0;
    return n;
}

std::size_t Walk::free_blocks() const { return count - used(); }

const BlockInfo* Walk::find(const void* payload) const {
    std::size_t lo = 0, hi = count;
    while (lo < hi) {
        std::size_t mid = lo + (hi - lo) / 2;
        if (blocks[mid].payload < payload) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < count && blocks[lo].payload == payload) return &blocks[lo];
    // Not sorted (check_walk reports that); fall back to a scan.
    for (std::size_t i = 0; i < count; ++i) {
        if (blocks[i].payload == payload) return &blocks[i];
    }
    return nullptr;
}

void walk(Walk& w, Where at) {
    w.count = 0;
    w.overflow = false;
    if (api.hwalk == nullptr) {
        not_applicable("the library has no hwalk (this project's heap walk), which the test reads");
    }
    api.hwalk(collect, &w);
    CHECK(!w.overflow) << "hwalk visited more than " << MAX_WALK << " blocks";
}

const Walk& walk_now(Where at) {
    static Walk w;
    walk(w, at);
    return w;
}

const Walk& walk_mapped_now(Where at) {
    static Walk w;
    w.count = 0;
    w.overflow = false;
    if (api.hwalk_mapped != nullptr) api.hwalk_mapped(collect, &w);
    CHECK(!w.overflow) << "hwalk_mapped visited more than " << MAX_WALK << " blocks";
    return w;
}

void check_walk(const WalkCheck& c, Where at) {
    if (api.hwalk == nullptr) return;  // a library without hwalk: the test's own checks only
    const Walk& w = walk_now(at);
    const char* region = sbrk_double_region() + HM_DOUBLE_START_OFFSET;
    const char* brk = sbrk_double_break();
    const char* prev_end = nullptr;
    for (std::size_t i = 0; i < w.count; ++i) {
        const BlockInfo& b = w.blocks[i];
        const char* header = static_cast<const char*>(b.header);
        const char* payload = static_cast<const char*>(b.payload);
        CHECK(payload == header + b.header_size)
            << "hwalk block " << i << ": payload " << b.payload << " is not header " << b.header << " + header_size "
            << b.header_size;
        CHECK(header >= region && payload <= brk && b.size <= static_cast<std::size_t>(brk - payload))
            << "hwalk block " << i << " (header " << b.header << ", " << b.size
            << " bytes) is not between the start of the heap " << static_cast<const void*>(region) << " and the break "
            << static_cast<const void*>(brk);
        CHECK(prev_end == nullptr || header >= prev_end)
            << "hwalk block " << i << " at " << b.header << " starts before the end of the block before it ("
            << static_cast<const void*>(prev_end) << "): out of order or overlapping";
        prev_end = payload + b.size;
        for (std::size_t f = 0; f < c.foreign_count; ++f) {
            const Block& m = c.foreign[f];
            CHECK(!overlap(header, static_cast<std::size_t>(prev_end - header), m.p, m.n))
                << "hwalk block " << i << " (header " << b.header << ", " << b.size
                << " bytes) covers memory someone else got from sbrk at " << m.p << " (" << m.n << " bytes)";
        }
    }
    const Walk& mw = walk_mapped_now(at);
    prev_end = nullptr;
    for (std::size_t i = 0; i < mw.count; ++i) {
        const BlockInfo& b = mw.blocks[i];
        const char* header = static_cast<const char*>(b.header);
        const char* payload = static_cast<const char*>(b.payload);
        CHECK(payload == header + b.header_size)
            << "hwalk_mapped block " << i << ": payload " << b.payload << " is not header " << b.header
            << " + header_size " << b.header_size;
        CHECK(b.free == 0) << "hwalk_mapped block " << i << " (" << b.payload << ") is listed as free";
        CHECK(mmap_double_is_mapped(header, b.header_size + b.size))
            << "hwalk_mapped block " << i << " (header " << b.header << ", " << b.size
            << " bytes) is not inside a live mapping the stage made";
        CHECK(prev_end == nullptr || header >= prev_end)
            << "hwalk_mapped block " << i << " at " << b.header << " starts before the end of the block before it";
        prev_end = payload + b.size;
    }
    for (std::size_t i = 0; i < c.live_count; ++i) {
        const Block& l = c.live[i];
        const BlockInfo* b = w.find(l.p);
        if (b == nullptr) b = mw.find(l.p);
        CHECK(b != nullptr) << "live block " << l.p << " (" << l.n << " bytes) is not in hwalk";
        CHECK(b->free == 0) << "live block " << l.p << " is marked free in hwalk";
        CHECK_GE(b->size, l.n) << "hwalk size of live block " << l.p << " is less than was asked for";
    }
    if (c.exact) {
        CHECK_EQ(w.used() + mw.count, start.used + start.mapped + c.live_count)
            << "used blocks in hwalk: expected the " << start.used << " in use at the start plus the test's "
            << c.live_count;
    }
}

// ---- the double ------------------------------------------------------------------------

Mark mark() { return Mark{sbrk_double_get_stats(), sbrk_double_break()}; }

Since since(const Mark& m) {
    sbrk_double_stats now = sbrk_double_get_stats();
    return Since{now.calls - m.at.calls, now.queries - m.at.queries, now.grows - m.at.grows,
                 now.shrinks - m.at.shrinks, now.refused - m.at.refused,
                 now.grown_bytes - m.at.grown_bytes, now.shrunk_bytes - m.at.shrunk_bytes};
}

char* current_break() { return sbrk_double_break(); }

void refuse_os_after(long grants) {
    sbrk_double_refuse_after(grants);
    mmap_double_refuse_after(grants);
}

// ---- stderr --------------------------------------------------------------------------------

void StderrCapture::begin(Where at) {
    int fds[2];
    CHECK(::pipe(fds) == 0) << "pipe failed";
    saved_ = ::dup(2);
    ::dup2(fds[1], 2);
    ::close(fds[1]);
    read_fd_ = fds[0];
    len_ = 0;
    buf_[0] = '\0';
}

void StderrCapture::end() {
    ::dup2(saved_, 2);
    ::close(saved_);
    for (;;) {
        ssize_t n = ::read(read_fd_, buf_ + len_, sizeof buf_ - 1 - len_);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len_ += static_cast<std::size_t>(n);
        if (len_ == sizeof buf_ - 1) break;
    }
    buf_[len_] = '\0';
    ::close(read_fd_);
}

namespace {
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f'); }
}  // namespace

bool StderrCapture::contains(const char* needle) const {
    std::size_t n = std::strlen(needle);
    for (std::size_t i = 0; i + n <= len_; ++i) {
        std::size_t k = 0;
        while (k < n && lower(buf_[i + k]) == lower(needle[k])) ++k;
        if (k == n) return true;
    }
    return false;
}

bool StderrCapture::mentions_pointer(const void* p) const {
    Text want;
    want.hex(reinterpret_cast<std::uintptr_t>(p));
    const char* digits = want.c_str() + 2;  // without "0x"
    std::size_t nd = std::strlen(digits);
    for (std::size_t i = 0; i + 2 <= len_; ++i) {
        if (buf_[i] != '0' || lower(buf_[i + 1]) != 'x') continue;
        std::size_t j = i + 2;
        while (j < len_ && buf_[j] == '0' && j + 1 < len_ && is_hex(buf_[j + 1])) ++j;
        std::size_t k = 0;
        while (k < nd && j + k < len_ && lower(buf_[j + k]) == digits[k]) ++k;
        if (k == nd && (j + k == len_ || !is_hex(buf_[j + k]))) return true;
    }
    return false;
}

namespace {

void check_refusal_message(const StderrCapture& cap, const char* name, const void* p,
                           std::initializer_list<const char*> problems, const char* how, Where at) {
    CHECK(!cap.empty()) << name << "(" << p << ") " << how << " without a message on stderr";
    bool named = false;
    for (const char* problem : problems) named = named || cap.contains(problem);
    Text wanted;
    for (const char* problem : problems) wanted << (wanted.size() ? " or \"" : "\"") << problem << '"';
    CHECK(named) << "the message does not name the problem (" << wanted << "): " << cap.text();
    CHECK(cap.mentions_pointer(p)) << "the message does not give the pointer " << p << ": " << cap.text();
    // It names the function that was called: "hfree" or, on a stage whose
    // prefixed names are aliases of the standard ones, "free".
    const char* function = name[0] == 'h' ? name + 1 : name;
    CHECK(cap.contains(function)) << "the message does not name the call, " << name << "(): " << cap.text();
}

void call_hfree(void* p) { api.hfree(p); }

}  // namespace

Outcome refused_call(const char* name, void (*call)(void*), void* p, std::initializer_list<const char*> problems,
                     Where at) {
    // The probe: does this call return, abort or crash?
    static StderrCapture probe;
    probe.begin(at);
    pid_t pid = ::fork();
    CHECK(pid >= 0) << "fork failed";
    if (pid == 0) {
        ::alarm(5);
        call(p);
        _exit(0);
    }
    int status = 0;
    probe.end();  // restores fd 2 and reads until the probe has exited
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char* abbrev = sigabbrev_np(sig);
        CHECK(sig == SIGABRT) << name << "(" << p << ") killed the process with SIG" << (abbrev ? abbrev : "?")
                              << (probe.empty() ? "" : "; stderr: ") << probe.text();
        check_refusal_message(probe, name, p, problems, "aborted", at);
        return Outcome::aborted;
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the " << name << " probe exited with status " << status;
    // It returns: make the call for real, here.
    static StderrCapture cap;
    cap.begin(at);
    call(p);
    cap.end();
    check_refusal_message(cap, name, p, problems, "returned", at);
    return Outcome::continued;
}

Outcome refused_free(void* p, std::initializer_list<const char*> problems, Where at) {
    return refused_call("hfree", call_hfree, p, problems, at);
}

Text& context() {
    static Text t;
    return t;
}

// ---- randomness ------------------------------------------------------------------------

std::uint64_t Random::next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void plug_free_blocks() {
    if (api.hwalk == nullptr) return;  // cannot see the free blocks
    static Walk w;
    for (int round = 0; round < 64; ++round) {
        walk(w);
        if (w.free_blocks() == 0) break;
        // In pieces no larger than HEAP_PIECE: a larger request would get a
        // mapping of its own (stage 09 on) instead of the free block.
        for (std::size_t i = 0; i < w.count; ++i) {
            std::size_t size = w.blocks[i].size;
            if (w.blocks[i].free != 0) (void)api.hmalloc(size < HEAP_PIECE ? size : HEAP_PIECE);
        }
    }
}

void hold_in_sbrk(std::atomic<bool>& go, const std::atomic<bool>& returned, Where at) {
    plug_free_blocks();
    sbrk_double_pause_next();
    go = true;
    double until = now_seconds() + 5;
    while (!sbrk_double_paused() && !returned.load() && now_seconds() < until) ::usleep(500);
    CHECK(sbrk_double_paused()) << "the held thread's request did not call sbrk (it returned: " << returned.load()
                                << ")";
}

// ---- time, the memory held, fork ----------------------------------------------------------

double now_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void sleep_ms(long ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

std::size_t held_since(std::size_t live_at_start) {
    auto brk = static_cast<std::size_t>(current_break() - start.brk);
    std::size_t live = mmap_double_get_stats().live_bytes;
    return brk + (live > live_at_start ? live - live_at_start : 0);
}

Text& ended(int status) {
    static Text t;
    t.clear();
    if (WIFEXITED(status)) {
        t << "exited with status " << WEXITSTATUS(status);
        if (WEXITSTATUS(status) == 1) t << " (a check failed in the child, above)";
    } else if (WIFSIGNALED(status)) {
        const char* abbrev = sigabbrev_np(WTERMSIG(status));
        t << "was killed by SIG" << (abbrev ? abbrev : "?");
        if (WTERMSIG(status) == SIGALRM) t << ": it hung (a lock held across fork?)";
    } else {
        t << "ended with status " << status;
    }
    return t;
}

namespace {
// A hang in the test process itself (inside fork, in a fork handler) ends as
// a failure with a message, before the harness's time limit.
void parent_hung(int) {
    static const char message[] =
        "the test process hung in fork() or a fork handler (the heap lock left held by fork?)\n";
    ssize_t ignored = ::write(2, message, sizeof message - 1);
    (void)ignored;
    _exit(1);
}
}  // namespace

int fork_and_wait(void (*in_child)(), Where at) {
    ::signal(SIGALRM, parent_hung);
    ::alarm(3);
    pid_t pid = ::fork();
    CHECK(pid >= 0) << "fork failed";
    if (pid == 0) {
        ::signal(SIGALRM, SIG_DFL);
        ::alarm(3);
        in_child();
        _exit(0);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::alarm(0);
    return status;
}

// ---- running one test ---------------------------------------------------------------------

namespace {

// The heap as the test finds it: plug free blocks (a preloaded stage's
// harness leaves some), then note the break and the blocks.
void begin_test() {
    refuse_os_after(-1);
    plug_free_blocks();
    static Walk w;
    w.count = 0;
    if (api.hwalk != nullptr) walk(w);
    start = StartState{sbrk_double_break(), w.count, w.used(), walk_mapped_now().count};
    sbrk_double_reset_stats();
    mmap_double_reset_stats();
}

enum class Result { pass, fail, not_applicable };

struct Run {
    Result result;
    Text why;  // for a failure the test did not report itself (signal, timeout)
};

constexpr std::size_t OUTPUT_MAX = 1 << 16;
char output[OUTPUT_MAX + 1];
std::size_t output_len = 0;
bool output_truncated = false;
int timeout_seconds = 10;

void run_test(const TestCase& t, Run& run) {
    output_len = 0;
    output_truncated = false;
    run.why.clear();
    int fds[2];
    if (::pipe(fds) != 0) {
        run.result = Result::fail;
        run.why << "pipe failed";
        return;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        run.result = Result::fail;
        run.why << "fork failed";
        ::close(fds[0]);
        ::close(fds[1]);
        return;
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        ::close(fds[0]);
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        report_fd = fds[1];
        ::alarm(static_cast<unsigned>(timeout_seconds + 5));  // in case the parent's watch fails
        begin_test();
        t.fn();
        _exit(0);
    }
    ::setpgid(pid, pid);
    ::close(fds[1]);
    double deadline = now_seconds() + timeout_seconds;
    bool timed_out = false;
    for (;;) {
        double left = deadline - now_seconds();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        pollfd pfd{fds[0], POLLIN, 0};
        int r = ::poll(&pfd, 1, static_cast<int>(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        char buf[4096];
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // EOF: the child and any probe it forked are done
        std::size_t room = OUTPUT_MAX - output_len;
        std::size_t take = static_cast<std::size_t>(n) < room ? static_cast<std::size_t>(n) : room;
        std::memcpy(output + output_len, buf, take);
        output_len += take;
        if (take < static_cast<std::size_t>(n)) output_truncated = true;
    }
    ::close(fds[0]);
    output[output_len] = '\0';
    int status = 0;
    if (!timed_out) {
        // The pipe is closed; the child should be gone or going.
        while (::waitpid(pid, &status, WNOHANG) == 0) {
            if (now_seconds() > deadline) {
                timed_out = true;
                break;
            }
            ::usleep(1000);
        }
    }
    if (timed_out) {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        run.result = Result::fail;
        run.why << "timed out after " << timeout_seconds << " s (a hang?); killed";
        return;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        run.result = Result::pass;
    } else if (checking_any && WIFEXITED(status) && WEXITSTATUS(status) == NA_STATUS) {
        run.result = Result::not_applicable;
    } else if (WIFEXITED(status)) {
        run.result = Result::fail;
        if (WEXITSTATUS(status) != 1) run.why << "the test process exited with status " << WEXITSTATUS(status);
    } else {
        run.result = Result::fail;
        int sig = WTERMSIG(status);
        const char* abbrev = sigabbrev_np(sig);
        run.why << "crashed: killed by SIG" << (abbrev ? abbrev : "?") << " (signal " << sig << ")";
    }
}

// ---- limitations ---------------------------------------------------------------------------

struct Limitation {
    const char* name;
    const char* fails_with;  // a piece of the failing test's report
    const char* reason;
    const char* anchor;
};
constexpr std::size_t MAX_LIMITS = 512;
Limitation limits[MAX_LIMITS];
std::size_t limit_count = 0;
char limits_text[1 << 16];

char* trim(char* s) {
    while (*s == ' ' || *s == '\t') ++s;
    char* e = s + std::strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = '\0';
    return s;
}

// Reads the list; on a line without its four non-empty fields, says which
// in `problem` and returns false.
bool load_limitations(const char* path, Text& problem) {
    int fd = ::open(path, O_RDONLY);
    if (fd < 0) {
        problem << "cannot read " << path;
        return false;
    }
    std::size_t len = 0;
    for (;;) {
        ssize_t n = ::read(fd, limits_text + len, sizeof limits_text - 1 - len);
        if (n <= 0) break;
        len += static_cast<std::size_t>(n);
    }
    ::close(fd);
    limits_text[len] = '\0';
    char* line = limits_text;
    long lineno = 0;
    while (line != nullptr && *line != '\0') {
        char* next = std::strchr(line, '\n');
        if (next != nullptr) *next++ = '\0';
        ++lineno;
        line = trim(line);
        if (*line == '#' || *line == '\0') {
            line = next;
            continue;
        }
        if (limit_count == MAX_LIMITS) {
            problem << path << ": more than " << MAX_LIMITS << " lines; raise MAX_LIMITS";
            return false;
        }
        char* field[4] = {line, nullptr, nullptr, nullptr};
        int fields = 1;
        for (char* c = line; *c != '\0'; ++c) {
            if (*c != '|') continue;
            *c = '\0';
            if (fields < 4) field[fields] = c + 1;
            ++fields;
        }
        bool empty = false;
        for (int f = 0; f < 4 && f < fields; ++f) empty = empty || *(field[f] = trim(field[f])) == '\0';
        if (fields != 4 || empty) {
            problem << path << ':' << lineno
                    << ": expected 'test.name | fails with | why, in one line | JOURNAL.md#anchor', every field filled";
            return false;
        }
        limits[limit_count++] = Limitation{field[0], field[1], field[2], field[3]};
        line = next;
    }
    return true;
}

const Limitation* limitation_of(const char* name) {
    for (std::size_t i = 0; i < limit_count; ++i) {
        if (std::strcmp(limits[i].name, name) == 0) return &limits[i];
    }
    return nullptr;
}

// Did the test fail the way its limitation says? Its report is the
// harness's line when there is one (a crash, a timeout, an odd exit status),
// else the test's own output.
bool failed_as_listed(const Run& run, const Limitation& lim) {
    if (run.why.size() > 0) return std::strstr(run.why.c_str(), lim.fails_with) != nullptr;
    std::size_t n = std::strlen(lim.fails_with);
    for (std::size_t i = 0; i + n <= output_len; ++i) {
        if (std::memcmp(output + i, lim.fails_with, n) == 0) return true;
    }
    return false;
}

// ---- any allocator: the table and the probe --------------------------------------------------
//
// tests/check/tests.txt, read with --lib: one line per test,
//     test.name | must or design | needs | idea | JOURNAL.md#anchor
// "must": every correct allocator passes it; "design": it checks one of
// hmalloc's choices, which a correct allocator may make otherwise. needs:
// "-" or a comma-separated list of what the test needs (see applicable()).

struct CheckEntry {
    const char* name;
    const char* kind;
    const char* needs;
    const char* idea;
    const char* anchor;
};
CheckEntry table[MAX_TESTS];
std::size_t table_count = 0;
char table_text[1 << 16];

bool load_table(const char* path, Text& problem) {
    int fd = ::open(path, O_RDONLY);
    if (fd < 0) {
        problem << "cannot read " << path;
        return false;
    }
    std::size_t len = 0;
    for (;;) {
        ssize_t n = ::read(fd, table_text + len, sizeof table_text - 1 - len);
        if (n <= 0) break;
        len += static_cast<std::size_t>(n);
    }
    ::close(fd);
    table_text[len] = '\0';
    char* line = table_text;
    long lineno = 0;
    while (line != nullptr && *line != '\0') {
        char* next = std::strchr(line, '\n');
        if (next != nullptr) *next++ = '\0';
        ++lineno;
        line = trim(line);
        if (*line != '#' && *line != '\0') {
            char* field[5] = {line, nullptr, nullptr, nullptr, nullptr};
            int fields = 1;
            for (char* c = line; *c != '\0'; ++c) {
                if (*c != '|') continue;
                *c = '\0';
                if (fields < 5) field[fields] = c + 1;
                ++fields;
            }
            bool empty = false;
            for (int f = 0; f < 5 && f < fields; ++f) empty = empty || *(field[f] = trim(field[f])) == '\0';
            if (fields != 5 || empty || table_count == MAX_TESTS ||
                (std::strcmp(field[1], "must") != 0 && std::strcmp(field[1], "design") != 0)) {
                problem << path << ':' << lineno
                        << ": expected 'test.name | must or design | needs | idea | JOURNAL.md#anchor'";
                return false;
            }
            table[table_count++] = CheckEntry{field[0], field[1], field[2], field[3], field[4]};
        }
        line = next;
    }
    return true;
}

const CheckEntry* entry_of(const char* name) {
    for (std::size_t i = 0; i < table_count; ++i) {
        if (std::strcmp(table[i].name, name) == 0) return &table[i];
    }
    return nullptr;
}

// What the library was seen to do in the probe: a short workload in a
// child process, its calls to the OS counted by the doubles. Calls made
// inside libc (glibc's own malloc calls its internal brk and mmap) or by
// raw system calls do not pass through the doubles and are not seen.
struct Probe {
    bool ran;
    sbrk_double_stats brk;
    mmap_double_stats map;
};
Probe probe{};

void run_probe() {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_t pid = ::fork();
    if (pid < 0) return;
    if (pid == 0) {
        ::close(fds[0]);
        ::alarm(static_cast<unsigned>(timeout_seconds));
        begin_test();
        static const std::size_t sizes[] = {16, 100, 1000, 5000, 70000, 200000, std::size_t{1} << 20, std::size_t{8} << 20};
        static void* blocks[64];
        for (std::size_t i = 0; i < 64; ++i) {
            blocks[i] = api.hmalloc(sizes[i % 8]);
            if (blocks[i] != nullptr) std::memset(blocks[i], 1, sizes[i % 8] < 4096 ? sizes[i % 8] : 4096);
        }
        for (std::size_t i = 0; i < 64; i += 2) api.hfree(blocks[i]);
        for (std::size_t i = 64; i-- > 0;) {
            if (i % 2 == 1) api.hfree(blocks[i]);
        }
        Probe p{true, sbrk_double_get_stats(), mmap_double_get_stats()};
        write_all(fds[1], reinterpret_cast<const char*>(&p), sizeof p);
        _exit(0);
    }
    ::close(fds[1]);
    std::size_t got = 0;
    Probe p{};
    for (;;) {
        ssize_t n = ::read(fds[0], reinterpret_cast<char*>(&p) + got, sizeof p - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
        if (got == sizeof p) break;
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got == sizeof p) probe = p;
}

bool uses_break() { return !probe.ran || probe.brk.grows > 0; }
bool uses_mmap() { return !probe.ran || probe.map.maps > 0; }

// Is the test applicable to the library? If not, `why` says why.
bool applicable(const char* needs, Text& why) {
    char word[32];
    const char* s = needs;
    while (*s != '\0') {
        std::size_t n = 0;
        while (*s == ',' || *s == ' ') ++s;
        while (*s != '\0' && *s != ',' && *s != ' ' && n + 1 < sizeof word) word[n++] = *s++;
        word[n] = '\0';
        if (n == 0 || std::strcmp(word, "-") == 0) continue;
        if (std::strcmp(word, "walk") == 0 && api.hwalk == nullptr) {
            why << "the library has no hwalk (this project's heap walk), which the test reads";
        } else if (std::strcmp(word, "break") == 0 && !uses_break()) {
            why << "the library was not seen to move the break (no sbrk or brk growth in the probe)";
        } else if (std::strcmp(word, "mmap") == 0 && !uses_mmap()) {
            why << "the library was not seen to call mmap (none in the probe)";
        } else if (std::strcmp(word, "os") == 0 && !uses_break() && !uses_mmap()) {
            why << "the library's calls to the OS were not seen (no sbrk, brk or mmap through the doubles in the "
                   "probe), so they cannot be refused or counted";
        } else if (std::strcmp(word, "hnames") == 0 && std::strcmp(prefix, "h") != 0) {
            why << "its helper program calls the library by the names hmalloc and hfree";
        } else if (std::strcmp(word, "stage") == 0) {
            why << "a rule for this project's stages (their exports, runtime and hmalloc.h), not for any allocator";
        } else {
            continue;
        }
        return false;
    }
    return true;
}

void print_probe() {
    Text t;
    if (!probe.ran) {
        t << "# probe: the probe workload did not finish: every test is taken as applicable\n";
    } else {
        t << "# probe: " << probe.brk.calls << " sbrk/brk calls (" << probe.brk.grows << " grow, " << probe.brk.shrinks
          << " shrink, " << probe.brk.brk_calls << " through brk), " << probe.map.maps << " mmap, "
          << probe.map.unmaps << " munmap, " << probe.map.remaps << " mremap\n";
        t << "# probe: uses the break: " << (uses_break() ? "yes" : "no") << "; maps memory: "
          << (uses_mmap() ? "yes" : "no") << "; hwalk: " << (api.hwalk != nullptr ? "yes" : "no") << '\n';
    }
    write_all(1, t.c_str(), t.size());
}

// ---- output ---------------------------------------------------------------------------------

void out(const Text& t) { write_all(1, t.c_str(), t.size()); }

// The child's output, one "#   " line per line.
void print_output() {
    std::size_t i = 0;
    while (i < output_len) {
        std::size_t j = i;
        while (j < output_len && output[j] != '\n') ++j;
        write_str(1, "#   ");
        write_all(1, output + i, j - i);
        write_str(1, "\n");
        i = j + 1;
    }
    if (output_truncated) write_str(1, "#   ... (output truncated)\n");
}

bool selected(const char* name, const char* const* only, int nonly) {
    if (nonly == 0) return true;
    for (int i = 0; i < nonly; ++i) {
        std::size_t n = std::strlen(only[i]);
        if (std::strcmp(name, only[i]) == 0) return true;
        // "trim" or "trim." selects the whole area.
        if (std::strncmp(name, only[i], n) == 0 && (name[n] == '.' || only[i][n - 1] == '.')) return true;
    }
    return false;
}

int usage() {
    write_str(2,
              "usage: suite --stage LIB [--limitations FILE] [--header FILE] [--only NAME]... [--timeout S]\n"
              "       suite --lib LIB [--prefix P] [--table tests/check/tests.txt]\n"
              "             [--limitations tests/check/differences.txt] [--only NAME]... [--timeout S]\n"
              "       suite --list\n");
    return 2;
}

// The stage's hmalloc.h: --header, else next to the limitations file.
char header_buf[4096];

}  // namespace
}  // namespace suite

int main(int argc, char** argv) {
    using namespace suite;
    const char* limitations_path = nullptr;
    const char* table_path = nullptr;
    static const char* only[64];
    int nonly = 0;
    bool list = false;
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        bool has_value = i + 1 < argc;
        if (std::strcmp(a, "--list") == 0) {
            list = true;
        } else if (std::strcmp(a, "--stage") == 0 && has_value) {
            library_path = argv[++i];
        } else if (std::strcmp(a, "--lib") == 0 && has_value) {
            library_path = argv[++i];
            checking_any = true;
        } else if (std::strcmp(a, "--prefix") == 0 && has_value) {
            prefix = argv[++i];
        } else if (std::strcmp(a, "--table") == 0 && has_value) {
            table_path = argv[++i];
        } else if (std::strcmp(a, "--limitations") == 0 && has_value) {
            limitations_path = argv[++i];
        } else if (std::strcmp(a, "--header") == 0 && has_value) {
            header_path = argv[++i];
        } else if (std::strcmp(a, "--only") == 0 && has_value && nonly < 64) {
            only[nonly++] = argv[++i];
        } else if (std::strcmp(a, "--timeout") == 0 && has_value) {
            timeout_seconds = std::atoi(argv[++i]);
            if (timeout_seconds <= 0) return usage();
        } else {
            return usage();
        }
    }
    if (list) {
        for (std::size_t i = 0; i < test_count; ++i) {
            write_str(1, tests[i].name);
            write_str(1, "\n");
        }
        return 0;
    }
    if (library_path == nullptr) return usage();
    if (!checking_any && (table_path != nullptr || std::strcmp(prefix, "h") != 0)) return usage();
    if (table_path != nullptr) {
        Text problem;
        if (!load_table(table_path, problem)) {
            Text t;
            t << "Bail out! " << problem << '\n';
            out(t);
            return 2;
        }
    }

    if (limitations_path != nullptr) {
        Text problem;
        if (!load_limitations(limitations_path, problem)) {
            Text t;
            t << "Bail out! " << problem << '\n';
            out(t);
            return 2;
        }
    }
    if (header_path == nullptr && limitations_path != nullptr) {
        const char* slash = std::strrchr(limitations_path, '/');
        std::size_t dir = slash ? static_cast<std::size_t>(slash - limitations_path + 1) : 0;
        if (dir + sizeof "hmalloc.h" < sizeof header_buf) {
            std::memcpy(header_buf, limitations_path, dir);
            std::memcpy(header_buf + dir, "hmalloc.h", sizeof "hmalloc.h");
            header_path = header_buf;
        }
    }

    // Reserve the double's region now, so every child sees the same addresses.
    (void)sbrk_double_region();

    if (const char* err = hm::test::load_api(library_path, &api, prefix, !checking_any)) {
        Text t;
        t << "Bail out! cannot load " << library_path << ": " << err << '\n';
        out(t);
        return 2;
    }
    {
        Dl_info info{};
        dladdr(reinterpret_cast<void*>(api.hmalloc), &info);
        auto own = [&](const char* name) { return hm::test::own_symbol(api.handle, info.dli_fbase, name); };
        api.malloc = reinterpret_cast<void* (*)(std::size_t)>(own("malloc"));
        api.free = reinterpret_cast<void (*)(void*)>(own("free"));
        api.posix_memalign = reinterpret_cast<int (*)(void**, std::size_t, std::size_t)>(own("posix_memalign"));
        api.aligned_alloc = reinterpret_cast<void* (*)(std::size_t, std::size_t)>(own("aligned_alloc"));
        api.memalign = reinterpret_cast<void* (*)(std::size_t, std::size_t)>(own("memalign"));
        api.valloc = reinterpret_cast<void* (*)(std::size_t)>(own("valloc"));
        api.pvalloc = reinterpret_cast<void* (*)(std::size_t)>(own("pvalloc"));
        api.malloc_usable_size = reinterpret_cast<std::size_t (*)(void*)>(own("malloc_usable_size"));
    }

    std::size_t planned = 0;
    for (std::size_t i = 0; i < test_count; ++i) planned += selected(tests[i].name, only, nonly);
    {
        Text t;
        t << "1.." << planned << '\n';
        if (checking_any) {
            t << "# library " << library_path << ", names " << (prefix[0] ? prefix : "(standard)")
              << (prefix[0] ? "malloc, " : "") << (prefix[0] ? prefix : "") << (prefix[0] ? "free, ..." : "")
              << ", table " << (table_path ? table_path : "(none)") << '\n';
        } else {
            t << "# stage " << library_path << ", limitations " << (limitations_path ? limitations_path : "(none)")
              << '\n';
        }
        // With LD_PRELOAD the process's malloc is the stage's, and the harness lives on its heap.
        if (api.malloc != nullptr && dlsym(RTLD_DEFAULT, "malloc") == reinterpret_cast<void*>(api.malloc)) {
            t << "# the stage is the process's malloc (preloaded)\n";
        }
        out(t);
    }
    if (checking_any) {
        run_probe();
        print_probe();
    }

    int unexpected = 0;
    std::size_t number = 0;
    static Run run;
    for (std::size_t i = 0; i < test_count; ++i) {
        const TestCase& t = tests[i];
        if (!selected(t.name, only, nonly)) continue;
        ++number;
        Text line;
        if (checking_any) {
            // With --lib: not applicable (# SKIP), passed, or failed; a
            // design test that fails is TAP's TODO (not a bug: a choice
            // hmalloc makes and this library does not), a must test that
            // fails is a plain "not ok".
            const CheckEntry* e = entry_of(t.name);
            Text why;
            if (e != nullptr && !applicable(e->needs, why)) {
                line << "ok " << number << " - " << t.name << " # SKIP " << why << '\n';
                out(line);
                continue;
            }
            run_test(t, run);
            bool must = e != nullptr && std::strcmp(e->kind, "must") == 0;
            if (run.result == Result::pass) {
                line << "ok " << number << " - " << t.name << '\n';
            } else if (run.result == Result::not_applicable) {
                const char* reason = std::strstr(output, NA_MARK);
                line << "ok " << number << " - " << t.name << " # SKIP ";
                if (reason != nullptr) {
                    reason += sizeof NA_MARK - 1;
                    const char* end = std::strchr(reason, '\n');
                    while (reason < (end ? end : reason + std::strlen(reason))) line << *reason++;
                }
                line << '\n';
                out(line);
                continue;
            } else if (const Limitation* d = limitation_of(t.name); must && d != nullptr && failed_as_listed(run, *d)) {
                // A must test failed on a point where correct allocators
                // legitimately differ (tests/check/differences.txt).
                line << "not ok " << number << " - " << t.name << " # TODO differs: " << d->reason << " ("
                     << d->anchor << ")\n";
            } else if (must) {
                line << "not ok " << number << " - " << t.name << '\n';
                ++unexpected;
            } else if (e != nullptr) {
                line << "not ok " << number << " - " << t.name << " # TODO design: " << e->idea << " (" << e->anchor
                     << ")\n";
            } else {
                line << "not ok " << number << " - " << t.name << " # TODO not in the table: unclassified\n";
            }
            out(line);
            if (run.why.size() > 0) {
                Text w;
                w << "#   " << run.why << '\n';
                out(w);
            }
            print_output();
            continue;
        }
        run_test(t, run);
        const Limitation* lim = limitation_of(t.name);
        if (run.result == Result::pass && lim == nullptr) {
            line << "ok " << number << " - " << t.name << '\n';
        } else if (run.result == Result::pass) {
            line << "not ok " << number << " - " << t.name << " (listed in " << limitations_path
                 << " but passes: remove it from the list)\n";
            ++unexpected;
        } else if (lim != nullptr && failed_as_listed(run, *lim)) {
            line << "not ok " << number << " - " << t.name << " # TODO " << lim->reason << " (" << lim->anchor
                 << ")\n";
        } else if (lim != nullptr) {
            line << "not ok " << number << " - " << t.name << " (listed as failing with \"" << lim->fails_with
                 << "\", but it failed otherwise)\n";
            ++unexpected;
        } else {
            line << "not ok " << number << " - " << t.name << '\n';
            ++unexpected;
        }
        out(line);
        if (run.why.size() > 0) {
            Text why;
            why << "#   " << run.why << '\n';
            out(why);
        }
        print_output();
    }
    for (std::size_t i = 0; i < limit_count; ++i) {
        bool known = false;
        for (std::size_t k = 0; k < test_count; ++k) known = known || std::strcmp(tests[k].name, limits[i].name) == 0;
        // real.NAME lines are tests/real-programs' (a program the stage is too slow for).
        if (!known && std::strncmp(limits[i].name, "real.", 5) != 0) {
            Text t;
            t << "# warning: " << limitations_path << " lists " << limits[i].name << ", which is not a test\n";
            out(t);
        }
    }
    return unexpected == 0 ? 0 : 1;
}
