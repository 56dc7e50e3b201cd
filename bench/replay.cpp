// bench/replay.cpp: replays an allocation trace against one allocator, checking
// every block as it goes, and reports speed, memory and calls to the OS.
//
// Not part of any lesson. Built twice (bench/bench.mk):
//   build/bench/replay         with the sbrk double linked in: replays against a
//                              stage through its prefixed API (dlopen), and the
//                              stage's heap lives in the double's region, so
//                              its footprint and sbrk calls are counted exactly
//   build/bench/replay-system  without it: replays through the standard names
//                              (malloc, free, ...), so against glibc's malloc,
//                              or a malloc preloaded with LD_PRELOAD
// `replay --system NAME` execs replay-system with the right LD_PRELOAD, so
// one command serves both. Usage: replay --help.
//
// The check: every block is filled, when it is born or grows, with a pattern
// of its own (64-bit words seed, seed+1, ... where the seed is new for every
// block), and the pattern is verified when the block is resized or freed and,
// for the blocks still live, at the end. calloc'd blocks are verified to be
// zero first. A block that lost its pattern means the allocator handed out
// overlapping memory, or wrote over a live block: the replay stops there and
// says so (exit status 3). Results that break alignment promises are counted
// (plain malloc: stage 01 does not align) or are errors (the memalign family).
//
// The replayer's own memory (the decoded trace, the table of live blocks) is
// mmap'd and touched before the clock starts, never taken from the allocator
// under test, and the resident-memory figures are measured from that point.
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "measure.hpp"
#include "system_alloc.hpp"
#include "trace_format.hpp"

#ifdef HM_REPLAY_STAGES
#include "hmalloc_api.h"
#include "mmap_double.h"
#include "sbrk_double.h"
#endif

using namespace hm::trace;
using hm::bench::now_seconds;

namespace {

// ---- options ----------------------------------------------------------------------

struct Options {
    const char* stage = nullptr;   // --stage N or PATH
    const char* system = nullptr;  // --system NAME or PATH
    const char* trace = nullptr;
    std::uint64_t cap_ops = 0;     // 0: no cap
    double cap_seconds = 0;        // 0: no cap
    double min_seconds = 0;        // replay again (passes) until the run lasts this long
    bool kv = false;
    bool info = false;
    bool count_os_calls = false;
    bool no_check = false;
    std::uint64_t measure_from = 0;  // 0: the rate is over the whole run; else from this operation on
};

[[noreturn]] void usage(int status) {
    std::FILE* out = status == 0 ? stdout : stderr;
    std::fprintf(out,
        "usage: replay (--stage N|LIB | --system NAME|LIB) [options] TRACE\n"
        "       replay --info TRACE        what the trace holds\n"
        "       replay --which NAME        where the library of a system allocator is\n"
        "\n"
        "  --stage N        a stage (build/NN/libhmalloc.so), through its prefixed API\n"
        "  --stage LIB      a stage library given by its path\n"
        "  --system NAME    glibc, jemalloc, mimalloc or tcmalloc, through the standard\n"
        "                   names (the library is preloaded), or the path of any\n"
        "                   library that defines malloc (build/07/libhmalloc.so)\n"
        "  --cap-ops N      stop after N operations and report \"over cap\"\n"
        "  --cap-seconds S  stop after S seconds and report \"over cap\"\n"
        "  --min-seconds S  a trace done sooner is replayed again (after freeing what\n"
        "                   is left) until the run has lasted S seconds: steadier rates\n"
        "  --count-os-calls count mmap/munmap/mremap/madvise/mprotect/brk (system\n"
        "                   allocators; a stage's sbrk calls are always counted)\n"
        "  --measure-from K also report the rate from operation K on (steady_*: the\n"
        "                   calls after a trace has built its live set); under callgrind,\n"
        "                   --zero-before=hm_steady_begin counts only those calls\n"
        "  --kv             print key=value lines (for bench/run.py)\n"
        "\n"
        "Exit status: 0 replayed (or over cap), 2 bad trace, 3 a block was corrupted\n"
        "or a promise broken, 4 out of memory, 64 usage.\n");
    std::exit(status);
}

// ---- memory of our own -------------------------------------------------------------

// Zeroed, touched pages from mmap: never from the allocator under test.
void* own_memory(std::size_t bytes) {
    if (bytes == 0) bytes = 1;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) {
        std::fprintf(stderr, "replay: cannot map %zu bytes for the replay itself\n", bytes);
        std::exit(4);
    }
    return p;
}

// ---- the trace ----------------------------------------------------------------------

struct Event {
    std::uint8_t op;    // an Op, never THREAD or END
    std::uint8_t kind;  // AlignedKind, for OP_ALIGNED
    std::uint32_t id;
    std::uint64_t size;   // bytes (for CALLOC: the element size)
    std::uint64_t extra;  // CALLOC: the count; ALIGNED: the alignment
};

struct Trace {
    FileHeader header{};
    Event* events = nullptr;
    std::size_t count = 0;         // events
    std::uint64_t ids = 0;         // largest id + 1
    std::uint64_t threads = 0;     // distinct THREAD numbers
    std::uint64_t by_op[8] = {};
    std::uint64_t by_kind[KIND_COUNT] = {};
    bool has_end = false;
    std::uint64_t end_unknown = 0;  // the recorder's count of calls on unseen pointers
    std::uint64_t peak_live = 0;    // bytes, as the program asked
    std::uint64_t peak_blocks = 0;
    std::uint64_t total_bytes = 0;  // bytes asked for, over all births and growths
};

[[noreturn]] void bad_trace(const char* path, const char* why, std::size_t at) {
    std::fprintf(stderr, "replay: %s: not a valid trace (%s, at byte %zu)\n", path, why, at);
    std::exit(2);
}

// Reads and checks the whole trace, and computes what the program had live.
Trace load_trace(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        std::fprintf(stderr, "replay: cannot open %s: %s\n", path, std::strerror(errno));
        std::exit(2);
    }
    struct stat st {};
    fstat(fd, &st);
    auto bytes = static_cast<std::size_t>(st.st_size);
    if (bytes < sizeof(FileHeader)) bad_trace(path, "too short", 0);
    void* map = mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) bad_trace(path, "cannot map it", 0);
    auto* base = static_cast<const std::uint8_t*>(map);

    Trace t;
    std::memcpy(&t.header, base, sizeof t.header);
    if (std::memcmp(t.header.magic, MAGIC, sizeof MAGIC) != 0) bad_trace(path, "no HMTRACE1 header", 0);
    if (t.header.version != VERSION) bad_trace(path, "unknown version", 8);

    // Every record is at least 2 bytes, so this many events is enough.
    std::size_t most = (bytes - sizeof(FileHeader)) / 2 + 1;
    t.events = static_cast<Event*>(mmap(nullptr, most * sizeof(Event), PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (t.events == MAP_FAILED) bad_trace(path, "too large to decode", 0);

    // Which ids are live, and their sizes: a growable map of our own.
    std::size_t live_capacity = 1 << 16;
    auto* live_size = static_cast<std::uint64_t*>(own_memory(live_capacity * sizeof(std::uint64_t)));
    auto* live = static_cast<std::uint8_t*>(own_memory(live_capacity));
    std::uint64_t live_bytes = 0, live_blocks = 0, max_thread = 0;

    Reader reader(base + sizeof(FileHeader), base + bytes);
    Record r{};
    while (!reader.at_end()) {
        std::size_t at = reader.offset_from(base);
        if (!reader.next(&r)) bad_trace(path, "malformed or cut-off record", at);
        if (r.op == OP_THREAD) {
            if (r.n[0] > max_thread) max_thread = r.n[0];
            continue;
        }
        if (r.op == OP_END) {
            t.has_end = true;
            t.end_unknown = r.n[1];
            continue;
        }
        std::uint64_t id = r.n[0];
        if (id >= UINT32_MAX) bad_trace(path, "id out of range", at);
        if (id >= live_capacity) {
            std::size_t bigger = live_capacity;
            while (bigger <= id) bigger *= 2;
            auto* s2 = static_cast<std::uint64_t*>(own_memory(bigger * sizeof(std::uint64_t)));
            auto* l2 = static_cast<std::uint8_t*>(own_memory(bigger));
            std::memcpy(s2, live_size, live_capacity * sizeof(std::uint64_t));
            std::memcpy(l2, live, live_capacity);
            munmap(live_size, live_capacity * sizeof(std::uint64_t));
            munmap(live, live_capacity);
            live_size = s2;
            live = l2;
            live_capacity = bigger;
        }
        if (id + 1 > t.ids) t.ids = id + 1;
        Event e{};
        e.op = r.op;
        e.id = static_cast<std::uint32_t>(id);
        std::uint64_t new_size = 0;
        switch (r.op) {
            case OP_MALLOC:
                e.size = r.n[1];
                new_size = e.size;
                break;
            case OP_CALLOC:
                e.extra = r.n[1];
                e.size = r.n[2];
                if (__builtin_mul_overflow(e.extra, e.size, &new_size)) bad_trace(path, "calloc size overflows", at);
                break;
            case OP_REALLOC:
                e.size = r.n[1];
                new_size = e.size;
                break;
            case OP_FREE:
                break;
            case OP_ALIGNED:
                if (r.n[1] >= KIND_COUNT) bad_trace(path, "unknown memalign kind", at);
                e.kind = static_cast<std::uint8_t>(r.n[1]);
                e.extra = r.n[2];
                e.size = r.n[3];
                new_size = e.size;
                if (e.extra == 0 || (e.extra & (e.extra - 1)) != 0) bad_trace(path, "alignment not a power of two", at);
                ++t.by_kind[e.kind];
                break;
            default:
                bad_trace(path, "unknown record", at);
        }
        bool born = r.op == OP_MALLOC || r.op == OP_CALLOC || r.op == OP_ALIGNED;
        if (born && live[id]) bad_trace(path, "a live id is born again", at);
        if (!born && !live[id]) bad_trace(path, "resize or free of an id that is not live", at);
        if (r.op == OP_FREE) {
            live[id] = 0;
            live_bytes -= live_size[id];
            --live_blocks;
        } else {
            if (r.op == OP_REALLOC) {
                live_bytes -= live_size[id];
                if (new_size > live_size[id]) t.total_bytes += new_size - live_size[id];
            } else {
                ++live_blocks;
                t.total_bytes += new_size;
            }
            live[id] = 1;
            live_size[id] = new_size;
            live_bytes += new_size;
        }
        if (live_bytes > t.peak_live) t.peak_live = live_bytes;
        if (live_blocks > t.peak_blocks) t.peak_blocks = live_blocks;
        ++t.by_op[r.op];
        t.events[t.count++] = e;
    }
    t.threads = max_thread;
    munmap(live_size, live_capacity * sizeof(std::uint64_t));
    munmap(live, live_capacity);
    munmap(map, bytes);
    return t;
}

void print_info(const char* path, const Trace& t) {
    char program[sizeof t.header.program + 1] = {};
    std::memcpy(program, t.header.program, sizeof t.header.program);
    std::printf("%s\n", path);
    std::printf("  program       %s (pid %u, parent %u)%s%s\n", program, t.header.pid, t.header.parent_pid,
                (t.header.flags & FLAG_FORKED_CHILD) ? ", a forked child: starts with the blocks it inherited" : "",
                (t.header.flags & FLAG_SYNTHETIC) ? ", synthetic (bench/gen)" : "");
    std::printf("  operations    %zu: %" PRIu64 " malloc, %" PRIu64 " calloc, %" PRIu64 " realloc, %" PRIu64
                " free, %" PRIu64 " memalign family\n",
                t.count, t.by_op[OP_MALLOC], t.by_op[OP_CALLOC], t.by_op[OP_REALLOC], t.by_op[OP_FREE],
                t.by_op[OP_ALIGNED]);
    if (t.by_op[OP_ALIGNED] != 0) {
        std::printf("  memalign      ");
        for (int k = 0; k < KIND_COUNT; ++k)
            if (t.by_kind[k] != 0) std::printf("%s %" PRIu64 "  ", KIND_NAME[k], t.by_kind[k]);
        std::printf("\n");
    }
    std::printf("  threads       %" PRIu64 "\n", t.threads);
    std::printf("  live at peak  %" PRIu64 " bytes in at most %" PRIu64 " blocks (ids used: %" PRIu64 ")\n",
                t.peak_live, t.peak_blocks, t.ids);
    std::printf("  asked for     %" PRIu64 " bytes in all\n", t.total_bytes);
    if (t.has_end) {
        std::printf("  end record    yes; %" PRIu64 " calls on pointers allocated before recording began\n",
                    t.end_unknown);
    } else {
        std::printf("  end record    none: the program ended without exit() or is still running; the\n"
                    "                last buffer of records may be missing\n");
    }
}

// ---- the allocator --------------------------------------------------------------------
//
// The functions the replay calls. A stage may lack some (hcalloc before
// stage 06, the memalign family before 07): then the replay does the call
// with what the stage has, counts it, and says so.

struct Allocator {
    void* (*malloc)(std::size_t) = nullptr;
    void (*free)(void*) = nullptr;
    void* (*calloc)(std::size_t, std::size_t) = nullptr;
    void* (*realloc)(void*, std::size_t) = nullptr;
    int (*posix_memalign)(void**, std::size_t, std::size_t) = nullptr;
    void* (*aligned_alloc)(std::size_t, std::size_t) = nullptr;
    void* (*memalign)(std::size_t, std::size_t) = nullptr;
    void* (*valloc)(std::size_t) = nullptr;
    void* (*pvalloc)(std::size_t) = nullptr;
};

constinit Allocator A;
constinit std::uint64_t emulated_calloc = 0, emulated_realloc = 0, emulated_aligned = 0;

}  // namespace

// Every call into the allocator goes through one of these, and nothing else
// does: `valgrind --tool=callgrind --toggle-collect='hm_call_*'` counts the
// allocator's instructions alone (bench/run.py does). A call the stage lacks
// is done here with what it has, so it is counted as the call's cost.
extern "C" {
__attribute__((noinline)) void* hm_call_malloc(std::size_t size) { return A.malloc(size); }
// Called once per pass when the replay reaches --measure-from: callgrind's
// --zero-before=hm_steady_begin then counts only the calls after it.
__attribute__((noinline)) void hm_steady_begin() { asm volatile(""); }
__attribute__((noinline)) void hm_call_free(void* p) { A.free(p); }

__attribute__((noinline)) void* hm_call_calloc(std::size_t count, std::size_t size) {
    if (A.calloc != nullptr) return A.calloc(count, size);
    ++emulated_calloc;
    void* p = A.malloc(count * size);  // the trace's product never overflows
    if (p != nullptr) std::memset(p, 0, count * size);
    return p;
}

// `old_size` is what the block held; the emulation copies that much.
__attribute__((noinline)) void* hm_call_realloc(void* p, std::size_t old_size, std::size_t size) {
    if (A.realloc != nullptr) return A.realloc(p, size);
    ++emulated_realloc;
    void* moved = A.malloc(size);
    if (moved == nullptr) return nullptr;
    std::memcpy(moved, p, old_size < size ? old_size : size);
    A.free(p);
    return moved;
}

// Returns the block's start (what free takes) and sets *aligned to the
// aligned pointer the program uses: the same, unless the stage has no
// memalign family, when the block is hmalloc(size + alignment - 1) and the
// program's pointer the first aligned byte in it.
__attribute__((noinline)) void* hm_call_aligned(int kind, std::size_t alignment, std::size_t size, void** aligned) {
    void* p = nullptr;
    switch (kind) {
        case KIND_POSIX_MEMALIGN:
            if (A.posix_memalign != nullptr) {
                if (A.posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, size) != 0) p = nullptr;
                *aligned = p;
                return p;
            }
            break;
        case KIND_ALIGNED_ALLOC:
            if (A.aligned_alloc != nullptr) return *aligned = A.aligned_alloc(alignment, size);
            break;
        case KIND_MEMALIGN:
            if (A.memalign != nullptr) return *aligned = A.memalign(alignment, size);
            break;
        case KIND_VALLOC:
            if (A.valloc != nullptr) return *aligned = A.valloc(size);
            break;
        case KIND_PVALLOC:
            if (A.pvalloc != nullptr) return *aligned = A.pvalloc(size);
            break;
    }
    ++emulated_aligned;
    if (kind == KIND_PVALLOC) size = size == 0 ? alignment : (size + alignment - 1) / alignment * alignment;
    p = A.malloc(size + alignment - 1);
    auto at = reinterpret_cast<std::uintptr_t>(p);
    *aligned = p == nullptr ? nullptr : reinterpret_cast<void*>((at + alignment - 1) & ~(alignment - 1));
    return p;
}
}  // extern "C"

namespace {

// ---- the pattern ---------------------------------------------------------------------
//
// Byte `o` of a block with seed `s` is byte o % 8 of the 64-bit word s + o / 8
// (little-endian). Words rather than bytes keep filling as fast as memset;
// a different seed per block and a different word per offset catch a block
// that overlaps another, and a copy that lands at the wrong offset.

inline std::uint8_t pattern_byte(std::uint64_t seed, std::size_t o) {
    return static_cast<std::uint8_t>((seed + o / 8) >> (8 * (o % 8)));
}

void fill(std::uint8_t* p, std::size_t from, std::size_t to, std::uint64_t seed) {
    std::size_t o = from;
    for (; o < to && o % 8 != 0; ++o) p[o] = pattern_byte(seed, o);
    for (; o + 8 <= to; o += 8) {
        std::uint64_t w = seed + o / 8;
        std::memcpy(p + o, &w, 8);
    }
    for (; o < to; ++o) p[o] = pattern_byte(seed, o);
}

// The first offset in [from, to) that does not hold the pattern, or `to`.
std::size_t first_bad(const std::uint8_t* p, std::size_t from, std::size_t to, std::uint64_t seed) {
    std::size_t o = from;
    for (; o < to && o % 8 != 0; ++o)
        if (p[o] != pattern_byte(seed, o)) return o;
    for (; o + 8 <= to; o += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + o, 8);
        if (w != seed + o / 8) break;
    }
    for (; o < to; ++o)
        if (p[o] != pattern_byte(seed, o)) return o;
    return to;
}

std::size_t first_nonzero(const std::uint8_t* p, std::size_t n) {
    for (std::size_t o = 0; o < n; ++o)
        if (p[o] != 0) return o;
    return n;
}

// A new seed for every block: splitmix64 of a counter, never 0.
inline std::uint64_t next_seed() {
    static constinit std::uint64_t counter = 0x5eed;
    std::uint64_t z = (counter += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z | 1;
}

// ---- the replay ---------------------------------------------------------------------

struct Slot {
    std::uint8_t* ptr;   // what the program uses
    std::uint8_t* base;  // what free takes (differs only for emulated memalign)
    std::uint64_t size;
    std::uint64_t seed;  // 0: the id is not live
};

struct Result {
    const char* status = "ok";  // ok, over_cap, corrupted, broken_promise, out_of_memory
    std::size_t done = 0;       // calls made (all passes, and the frees between them)
    int passes = 0;             // whole replays of the trace
    double seconds = 0;
    std::uint64_t misaligned = 0;  // malloc/calloc/realloc results aligned less than C promises
    std::uint64_t live = 0, peak_live = 0;
    std::uint64_t instructions = 0;  // 0: no counter
    std::size_t steady_done = 0;     // calls from --measure-from on, in every pass
    double steady_seconds = 0;       // and the time they took
};

constinit Slot* slots = nullptr;
constinit const char* alloc_name = "?";

[[noreturn]] void corrupted(const Event& e, std::size_t index, const Slot& s, std::size_t offset,
                            const char* when) {
    std::fflush(stdout);
    std::fprintf(stderr,
                 "replay: CORRUPTED BLOCK with %s: block id %u (%" PRIu64 " bytes at %p) lost its\n"
                 "        contents at offset %zu (expected 0x%02x, found 0x%02x), seen %s, at\n"
                 "        operation %zu (%s). The allocator handed out memory that overlaps a live\n"
                 "        block or wrote over one.\n",
                 alloc_name, e.id, s.size, static_cast<void*>(s.ptr), offset, pattern_byte(s.seed, offset),
                 s.ptr[offset], when, index,
                 e.op == OP_FREE ? "free" : e.op == OP_REALLOC ? "realloc" : "end-of-trace check");
    std::exit(3);
}

void verify(const Event& e, std::size_t index, const Slot& s, const char* when) {
    std::size_t bad = first_bad(s.ptr, 0, s.size, s.seed);
    if (bad != s.size) corrupted(e, index, s, bad, when);
}

[[noreturn]] void out_of_memory(const Event& e, std::size_t index, std::uint64_t bytes) {
    std::fflush(stdout);
    std::fprintf(stderr, "replay: %s returned NULL for %" PRIu64 " bytes at operation %zu (id %u): out of memory\n",
                 alloc_name, bytes, index, e.id);
    std::exit(4);
}

// malloc promises alignment enough for any object that fits in the block
// (C17 7.22.3): alignof(max_align_t) for 16 bytes and more, less for a
// smaller block (jemalloc hands out 8-byte blocks at multiples of 8).
inline void note_alignment(const void* p, std::uint64_t size, Result* r) {
    std::uint64_t need = alignof(std::max_align_t);
    while (need > size && need > 1) need /= 2;
    if (size != 0 && reinterpret_cast<std::uintptr_t>(p) % need != 0) ++r->misaligned;
}

// One replay of the first `n` events, until the end or the deadline (0:
// none). Returns how many events were replayed.
std::size_t replay_pass(const Trace& t, std::size_t n, double deadline, bool checking, Result& r,
                        std::uint64_t& live, std::uint64_t& peak, std::size_t mark_at, double* mark_time) {
    const Event* ev = t.events;
    std::size_t i = 0;
    for (; i < n; ++i) {
        if ((i & 255) == 0 && deadline != 0 && now_seconds() > deadline) break;
        if (i == mark_at) {
            hm_steady_begin();
            *mark_time = now_seconds();
        }
        const Event& e = ev[i];
        Slot& s = slots[e.id];
        switch (e.op) {
            case OP_MALLOC: {
                void* p = hm_call_malloc(e.size);
                if (p == nullptr && e.size != 0) out_of_memory(e, i, e.size);
                note_alignment(p, e.size, &r);
                s = Slot{static_cast<std::uint8_t*>(p), static_cast<std::uint8_t*>(p), e.size, next_seed()};
                if (checking) fill(s.ptr, 0, s.size, s.seed);
                live += e.size;
                break;
            }
            case OP_CALLOC: {
                std::uint64_t bytes = e.size * e.extra;
                void* p = hm_call_calloc(e.extra, e.size);
                if (p == nullptr && bytes != 0) out_of_memory(e, i, bytes);
                note_alignment(p, bytes, &r);
                s = Slot{static_cast<std::uint8_t*>(p), static_cast<std::uint8_t*>(p), bytes, next_seed()};
                if (checking) {
                    std::size_t bad = first_nonzero(s.ptr, bytes);
                    if (bad != bytes) {
                        std::fflush(stdout);
                        std::fprintf(stderr, "replay: %s: calloc'd block id %u (%" PRIu64
                                     " bytes) is not zero at offset %zu (operation %zu)\n",
                                     alloc_name, e.id, bytes, bad, i);
                        std::exit(3);
                    }
                    fill(s.ptr, 0, s.size, s.seed);
                }
                live += bytes;
                break;
            }
            case OP_REALLOC: {
                if (checking) verify(e, i, s, "before realloc");
                std::uint8_t* p;
                if (s.base != s.ptr) {
                    // An emulated aligned block: what the program holds is
                    // not what the stage handed out, so resize by hand.
                    ++emulated_realloc;
                    p = static_cast<std::uint8_t*>(hm_call_malloc(e.size));
                    if (p == nullptr) out_of_memory(e, i, e.size);
                    std::memcpy(p, s.ptr, s.size < e.size ? s.size : e.size);
                    hm_call_free(s.base);
                } else {
                    p = static_cast<std::uint8_t*>(hm_call_realloc(s.ptr, s.size, e.size));
                    if (p == nullptr) out_of_memory(e, i, e.size);
                }
                note_alignment(p, e.size, &r);
                std::uint64_t kept = s.size < e.size ? s.size : e.size;
                live = live - s.size + e.size;
                s.ptr = s.base = p;
                if (checking) {
                    std::size_t bad = first_bad(p, 0, kept, s.seed);
                    if (bad != kept) {
                        s.size = kept;
                        corrupted(e, i, s, bad, "after realloc (the old contents were not kept)");
                    }
                    fill(p, kept, e.size, s.seed);
                }
                s.size = e.size;
                break;
            }
            case OP_FREE:
                if (checking) verify(e, i, s, "at free");
                hm_call_free(s.base);
                live -= s.size;
                s.seed = 0;
                break;
            case OP_ALIGNED: {
                void* aligned = nullptr;
                void* p = hm_call_aligned(e.kind, e.extra, e.size, &aligned);
                if (p == nullptr) out_of_memory(e, i, e.size);
                if (reinterpret_cast<std::uintptr_t>(aligned) % e.extra != 0) {
                    std::fflush(stdout);
                    std::fprintf(stderr, "replay: %s: %s(%" PRIu64 ", %" PRIu64 ") returned %p, not aligned (operation %zu)\n",
                                 alloc_name, KIND_NAME[e.kind], e.extra, e.size, aligned, i);
                    std::exit(3);
                }
                s = Slot{static_cast<std::uint8_t*>(aligned), static_cast<std::uint8_t*>(p), e.size, next_seed()};
                if (checking) fill(s.ptr, 0, s.size, s.seed);
                live += e.size;
                break;
            }
        }
        if (live > peak) peak = live;
    }
    return i;
}

// Frees every block still live, checking each: the heap is empty again.
std::size_t free_all(const Trace& t, bool checking, std::uint64_t& live) {
    std::size_t freed = 0;
    Event end{};
    end.op = OP_FREE;
    for (std::uint64_t id = 0; id < t.ids; ++id) {
        Slot& s = slots[id];
        if (s.seed == 0) continue;
        end.id = static_cast<std::uint32_t>(id);
        if (checking) verify(end, t.count, s, "at the end of a pass");
        hm_call_free(s.base);
        live -= s.size;
        s.seed = 0;
        ++freed;
    }
    return freed;
}

#ifdef HM_REPLAY_STAGES
// The sbrk double's counters after the first pass: calls to the OS are
// reported for one replay of the trace, as they are for the system allocators.
constinit sbrk_double_stats first_pass_os = {};
constinit mmap_double_stats first_pass_mmap = {};
void note_first_pass() {
    first_pass_os = sbrk_double_get_stats();
    first_pass_mmap = mmap_double_get_stats();
}
#else
void note_first_pass() {}
#endif

// Replays the trace (several times over, with --min-seconds) until the end
// or a cap. Returns what happened.
Result replay(const Trace& t, const Options& o) {
    Result r;
    hm::bench::InstructionCounter counter;
    std::uint64_t live = 0, peak = 0;
    std::size_t n = t.count;
    if (o.cap_ops != 0 && o.cap_ops < n) n = static_cast<std::size_t>(o.cap_ops);
    double deadline = 0;
    bool checking = !o.no_check;

    hm::bench::OsCallCounter::begin();
    counter.start();
    double start = now_seconds();
    if (o.cap_seconds > 0) deadline = start + o.cap_seconds;
    std::size_t last = 0;
    std::size_t mark_at = o.measure_from != 0 ? static_cast<std::size_t>(o.measure_from) : SIZE_MAX;
    for (;;) {
        double mark_time = 0;
        last = replay_pass(t, n, deadline, checking, r, live, peak, mark_at, &mark_time);
        if (last > mark_at) {
            r.steady_done += last - mark_at;
            r.steady_seconds += now_seconds() - mark_time;
        }
        r.done += last;
        if (r.passes == 0) note_first_pass();
        if (last < t.count) {
            // The first pass ran into a cap: over cap. A later one (which
            // was expected to fit) just ends the run.
            if (r.passes == 0) r.status = "over_cap";
            break;
        }
        ++r.passes;
        double elapsed = now_seconds() - start;
        if (o.min_seconds <= 0 || elapsed >= o.min_seconds) break;
        if (deadline != 0 && start + elapsed * (r.passes + 1.5) / r.passes > deadline) break;
        r.done += free_all(t, checking, live);
    }
    r.seconds = now_seconds() - start;
    r.instructions = counter.stop();
    hm::bench::OsCallCounter::end();
    r.live = live;
    r.peak_live = peak;

    // The blocks still live must still hold their patterns.
    if (checking) {
        Event end{};
        for (std::uint64_t id = 0; id < t.ids; ++id) {
            if (slots[id].seed == 0) continue;
            end.id = static_cast<std::uint32_t>(id);
            verify(end, last, slots[id], "at the end");
        }
    }
    return r;
}

// ---- finding the libraries -------------------------------------------------------------

#ifdef HM_REPLAY_STAGES
// The directory this program is in (build/bench), with a trailing slash.
void own_dir(char* out, std::size_t size) {
    ssize_t n = readlink("/proc/self/exe", out, size - 1);
    if (n <= 0) n = 0;
    out[n] = '\0';
    char* slash = std::strrchr(out, '/');
    if (slash != nullptr) slash[1] = '\0';
}
#endif

// ---- output ---------------------------------------------------------------------------

struct OsFigures {
    bool stage = false;
    unsigned long calls = 0, grows = 0, shrinks = 0, queries = 0, refused = 0;
    std::size_t footprint_peak = 0, footprint_end = 0;
    unsigned long mmap_calls = 0;  // a stage's own mmap, munmap and mremap calls (the mmap double), first pass
    std::size_t mmap_peak = 0;     // the most bytes its mappings held at once
};

void print_result(const Options& o, const Trace& t, const Result& r, const OsFigures& os,
                  const hm::bench::Resident& base, const hm::bench::Resident& end, bool peak_reset) {
    std::size_t rss_peak = end.hwm > base.rss ? end.hwm - base.rss : 0;
    std::size_t rss_end = end.rss > base.rss ? end.rss - base.rss : 0;
    double rate = r.seconds > 0 ? static_cast<double>(r.done) / r.seconds : 0;
    std::size_t footprint = os.stage ? os.footprint_peak : rss_peak;
    if (o.kv) {
        std::printf("alloc=%s\nstatus=%s\nops=%zu\nops_done=%zu\npasses=%d\nseconds=%.6f\nops_per_sec=%.1f\n",
                    alloc_name, r.status, t.count, r.done, r.passes, r.seconds, rate);
        std::printf("peak_live=%" PRIu64 "\nend_live=%" PRIu64 "\n", r.peak_live, r.live);
        std::printf("footprint_peak=%zu\nfootprint_source=%s\n", footprint, os.stage ? "sbrk" : "rss");
        if (os.stage) std::printf("footprint_end=%zu\n", os.footprint_end);
        std::printf("rss_peak=%zu\nrss_end=%zu\nrss_peak_reset=%d\n", rss_peak, rss_end, peak_reset ? 1 : 0);
        if (os.stage)
            std::printf("sbrk_calls=%lu\nsbrk_grows=%lu\nsbrk_shrinks=%lu\nsbrk_queries=%lu\nsbrk_refused=%lu\n",
                        os.calls, os.grows, os.shrinks, os.queries, os.refused);
        std::printf("misaligned=%" PRIu64 "\nemulated_calloc=%" PRIu64 "\nemulated_realloc=%" PRIu64
                    "\nemulated_aligned=%" PRIu64 "\n",
                    r.misaligned, emulated_calloc, emulated_realloc, emulated_aligned);
        if (r.instructions != 0) std::printf("instructions=%" PRIu64 "\n", r.instructions);
        if (o.measure_from != 0)
            std::printf("steady_from=%" PRIu64 "\nsteady_ops=%zu\nsteady_seconds=%.6f\nsteady_per_sec=%.1f\n",
                        o.measure_from, r.steady_done, r.steady_seconds,
                        r.steady_seconds > 0 ? static_cast<double>(r.steady_done) / r.steady_seconds : 0.0);
        if (os.stage)
            std::printf("mmap_calls=%lu\nmmap_peak=%zu\n", os.mmap_calls, os.mmap_peak);
        std::fflush(stdout);
        return;
    }
    std::printf("%s on %s\n", o.trace, alloc_name);
    if (std::strcmp(r.status, "over_cap") == 0) {
        std::printf("  OVER CAP        stopped after %zu of %zu operations (%.0f%%), %.2f s\n", r.done, t.count,
                    100.0 * static_cast<double>(r.done) / static_cast<double>(t.count ? t.count : 1), r.seconds);
    }
    std::printf("  operations      %zu in %.3f s: %.0f per second%s\n", r.done, r.seconds, rate,
                o.no_check ? " (contents not checked)" : ", every block checked");
    if (r.passes > 1)
        std::printf("  passes          the trace was replayed %d times (what was live freed in between)\n", r.passes);
    std::printf("  live data       peak %" PRIu64 " bytes, %" PRIu64 " at the end\n", r.peak_live, r.live);
    if (os.stage) {
        std::printf("  heap from OS    peak %zu bytes (sbrk double), %zu at the end\n", os.footprint_peak,
                    os.footprint_end);
        std::printf("  calls to the OS %lu sbrk calls: %lu grow, %lu shrink, %lu ask where the break is%s\n",
                    os.calls, os.grows, os.shrinks, os.queries, r.passes > 1 ? " (in the first pass)" : "");
        if (os.mmap_calls != 0)
            std::printf("                  %lu mmap, munmap and mremap calls; mappings peaked at %zu bytes\n",
                        os.mmap_calls, os.mmap_peak);
    } else {
        std::printf("  heap from OS    peak %zu bytes resident (VmHWM over the start%s)\n", rss_peak,
                    peak_reset ? "" : "; the peak could not be reset, so it may be high");
    }
    std::printf("  resident        %zu bytes more at the end than at the start\n", rss_end);
    if (r.peak_live != 0 && footprint != 0)
        std::printf("  efficiency      %.1f%% (peak live / peak heap)\n",
                    100.0 * static_cast<double>(r.peak_live) / static_cast<double>(footprint));
    if (r.misaligned != 0)
        std::printf("  alignment       %" PRIu64 " results aligned less than C promises (%zu bytes, or the\n"
                    "                  block's size rounded down to a power of two if smaller)\n",
                    r.misaligned, alignof(std::max_align_t));
    if (emulated_calloc + emulated_realloc + emulated_aligned != 0)
        std::printf("  note            done with the calls the stage has: %" PRIu64 " calloc (malloc + memset), %" PRIu64
                    " realloc (malloc + copy + free), %" PRIu64 " memalign family (malloc of size + alignment - 1)\n",
                    emulated_calloc, emulated_realloc, emulated_aligned);
    if (o.measure_from != 0)
        std::printf("  steady          %zu operations from operation %" PRIu64 " on, in %.3f s: %.0f per second\n",
                    r.steady_done, o.measure_from, r.steady_seconds,
                    r.steady_seconds > 0 ? static_cast<double>(r.steady_done) / r.steady_seconds : 0.0);
    if (r.instructions != 0)
        std::printf("  instructions    %.0f per operation (CPU counter, whole loop)\n",
                    static_cast<double>(r.instructions) / static_cast<double>(r.done ? r.done : 1));
    std::fflush(stdout);
}

// ---- main -----------------------------------------------------------------------------

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) usage(64);
            return argv[++i];
        };
        if (std::strcmp(a, "--stage") == 0) {
            o.stage = value();
        } else if (std::strcmp(a, "--system") == 0) {
            o.system = value();
        } else if (std::strcmp(a, "--cap-ops") == 0) {
            o.cap_ops = std::strtoull(value(), nullptr, 10);
        } else if (std::strcmp(a, "--cap-seconds") == 0) {
            o.cap_seconds = std::strtod(value(), nullptr);
        } else if (std::strcmp(a, "--min-seconds") == 0) {
            o.min_seconds = std::strtod(value(), nullptr);
        } else if (std::strcmp(a, "--kv") == 0) {
            o.kv = true;
        } else if (std::strcmp(a, "--info") == 0) {
            o.info = true;
        } else if (std::strcmp(a, "--measure-from") == 0) {
            o.measure_from = std::strtoull(value(), nullptr, 10);
        } else if (std::strcmp(a, "--count-os-calls") == 0) {
            o.count_os_calls = true;
        } else if (std::strcmp(a, "--no-check") == 0) {
            o.no_check = true;
        } else if (std::strcmp(a, "--which") == 0) {
            const char* name = value();
            if (std::strcmp(name, "glibc") == 0) {
                std::printf("glibc\n");
                std::exit(0);
            }
            const char* lib = hm::bench::find_system_lib(name);
            if (lib == nullptr) {
                std::printf("missing\n");
                std::exit(1);
            }
            std::printf("%s\n", lib);
            std::exit(0);
        } else if (std::strcmp(a, "--help") == 0 || std::strcmp(a, "-h") == 0) {
            usage(0);
        } else if (a[0] == '-') {
            std::fprintf(stderr, "replay: unknown option %s\n", a);
            usage(64);
        } else if (o.trace == nullptr) {
            o.trace = a;
        } else {
            usage(64);
        }
    }
    if (o.trace == nullptr) usage(64);
    if (!o.info && (o.stage == nullptr) == (o.system == nullptr)) {
        std::fprintf(stderr, "replay: say either --stage or --system\n");
        usage(64);
    }
    return o;
}

#ifdef HM_REPLAY_STAGES
// Runs replay-system, next to this program; it preloads the allocator.
[[noreturn]] void exec_system(char** argv) {
    char path[4096];
    own_dir(path, sizeof path);
    std::strncat(path, "replay-system", sizeof path - std::strlen(path) - 1);
    execv(path, argv);
    std::fprintf(stderr, "replay: cannot run %s: %s\n", path, std::strerror(errno));
    std::exit(64);
}

void load_stage(const char* stage) {
    char path[4096];
    bool number = stage[0] != '\0' && std::strspn(stage, "0123456789") == std::strlen(stage);
    if (number) {
        own_dir(path, sizeof path);
        std::size_t len = std::strlen(path);
        std::snprintf(path + len, sizeof path - len, "../%02d/libhmalloc.so", std::atoi(stage));
    } else {
        std::snprintf(path, sizeof path, "%s", stage);
    }
    static hm::test::Api api;
    const char* why = hm::test::load_api(path, &api);
    if (why != nullptr) {
        std::fprintf(stderr, "replay: cannot load the stage %s: %s\n", path, why);
        std::exit(64);
    }
    A.malloc = api.hmalloc;
    A.free = api.hfree;
    A.calloc = api.hcalloc;
    A.realloc = api.hrealloc;
    Dl_info info{};
    dladdr(reinterpret_cast<void*>(api.hmalloc), &info);
    auto get = [&](auto& fn, const char* name) {
        fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(hm::test::own_symbol(api.handle, info.dli_fbase, name));
    };
    get(A.posix_memalign, "posix_memalign");
    get(A.aligned_alloc, "aligned_alloc");
    get(A.memalign, "memalign");
    get(A.valloc, "valloc");
    get(A.pvalloc, "pvalloc");
    static char name[64];
    if (number) {
        std::snprintf(name, sizeof name, "stage %02d", std::atoi(stage));
    } else {
        std::snprintf(name, sizeof name, "%s", stage);
    }
    alloc_name = name;
}
#else
// The standard names, from the allocator asked for: preloaded (this
// program runs itself again with LD_PRELOAD if need be), or glibc's own.
void load_system(const char* system, char** argv) {
    hm::bench::use_system_allocator(system, "/proc/self/exe", argv);
    A.malloc = &::malloc;
    A.free = &::free;
    A.calloc = &::calloc;
    A.realloc = &::realloc;
    A.posix_memalign = &::posix_memalign;
    A.aligned_alloc = &::aligned_alloc;
    A.memalign = &::memalign;
    A.valloc = &::valloc;
    A.pvalloc = &::pvalloc;
    alloc_name = std::strchr(system, '/') != nullptr ? hm::bench::base_name(system) : system;
}
#endif

}  // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    if (o.info) {
        Trace t = load_trace(o.trace);
        print_info(o.trace, t);
        return 0;
    }
#ifdef HM_REPLAY_STAGES
    if (o.system != nullptr) exec_system(argv);
    (void)sbrk_double_break();  // the region is reserved before anything is measured
    load_stage(o.stage);
#else
    if (o.stage != nullptr) {
        std::fprintf(stderr, "replay-system replays through the standard names; use replay --stage\n");
        return 64;
    }
    load_system(o.system, argv);
    if (o.count_os_calls) hm::bench::OsCallCounter::fork_and_trace();
#endif
    Trace t = load_trace(o.trace);
    slots = static_cast<Slot*>(own_memory((t.ids ? t.ids : 1) * sizeof(Slot)));
    if (!o.kv) std::fflush(stdout);

    OsFigures os;
#ifdef HM_REPLAY_STAGES
    char* heap_start = sbrk_double_break();
    sbrk_double_reset_stats();
    mmap_double_reset_stats();
    std::size_t mapped_start = mmap_double_get_stats().live_bytes;
#endif
    bool peak_reset = hm::bench::reset_peak();
    hm::bench::Resident base = hm::bench::read_resident();
    Result r = replay(t, o);
    hm::bench::Resident end = hm::bench::read_resident();
#ifdef HM_REPLAY_STAGES
    sbrk_double_stats st = first_pass_os;
    st.peak = sbrk_double_get_stats().peak;
    os.stage = true;
    os.calls = st.calls;
    os.grows = st.grows;
    os.shrinks = st.shrinks;
    os.queries = st.queries;
    os.refused = st.refused;
    std::size_t start_height = static_cast<std::size_t>(heap_start - sbrk_double_region());
    // A stage that maps large blocks (09 on) holds those too: the footprint is
    // the break's peak plus the mappings' peak (an upper bound when the two
    // peaks did not come at once).
    os.mmap_calls = first_pass_mmap.maps + first_pass_mmap.unmaps + first_pass_mmap.remaps;
    os.mmap_peak = mmap_double_get_stats().peak_bytes - mapped_start;
    os.footprint_peak = st.peak - start_height + os.mmap_peak;
    os.footprint_end = static_cast<std::size_t>(sbrk_double_break() - heap_start);
#endif
    print_result(o, t, r, os, base, end, peak_reset);
    return 0;
}
