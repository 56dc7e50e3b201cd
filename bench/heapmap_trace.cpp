// bench/heapmap_trace.cpp: a real program's heap on a stage, drawn as an SVG
// picture (`make stage=N heapmap CMD='...'`, which records the trace first:
// bench/heapmap-cmd).
//
// Not part of any lesson. The trace (bench/trace_format.hpp) is replayed on
// the stage through its own prefixed entry points (hmalloc, hfree, ...,
// loaded with dlopen as bench/replay does), its sbrk/brk calls land in the
// sbrk double and its mmap/munmap/mremap calls in the mmap double, so every
// stage's heap is alone in its region and its calls to the OS are counted the
// same way, whether the stage is prefixed only (01-06) or also preloadable (07
// on). Twice the heap is walked (hwalk, and hwalk_mapped from stage 09 on):
// when the program's live bytes first reach their peak, and at the end (or
// where the replay stopped: the cap, a refused call, a corrupted block).
//
// A real heap has far more blocks than a picture has room for, so it is
// summarised: one cell stands for K bytes of the heap (K a power of two, the
// same for both pictures, stated in the picture), and its column is filled
// from the bottom with the share of those bytes that are headers, live data,
// slack and free payload; what is left empty is gap (bytes in no block), a
// hatched share is past the break (the heap's highest break is drawn for
// scale). Mapped blocks are drawn apart, end to end in address order with a
// line between two mappings, on a scale of their own. From stage 14 on,
// hwalk_mapped also reports the small blocks, which have no header and no
// mapping of their own: they live in segments the stage mapped (1 MiB each,
// cut into pages of one size class). A block is told to be small when it is
// not the start of a mapping (the mmap double's table says which mappings
// are live); the mapping that holds it is its segment. The segments are
// drawn apart too, end to end, each block at its offset in its segment, and
// counted in the footprint as segments, not as blocks. The picture has at
// most 40 rows of 64 cells for the heap and 8 each for the mappings and the
// segments, so its size is bounded whatever the program.
//
// The replay does not fill the blocks (a picture, not a speed test): it
// stamps each block's first 8 bytes and checks them when the block is
// resized or freed, so a stage that hands out overlapping memory is caught
// more often than not. A call the stage lacks is done with what it has, as
// bench/replay does: calloc as hmalloc (not zeroed: nothing reads it), realloc
// as hmalloc + copy of the stamp + hfree, the memalign family as
// hmalloc(size + alignment - 1).
//
// Usage: heapmap-trace LIB TRACE OUT.svg TITLE [--cap-seconds S] [--command TEXT]
//        heapmap-trace --calls TRACE       the trace's peak of live bytes and its number of calls
// Exit status: 0 drawn (also over the cap, or when the stage refused a call),
// 1 cannot load or write, 2 bad trace, 3 a block was corrupted (drawn too), 64 usage.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cerrno>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "hmalloc_api.h"
#include "mmap_double.h"
#include "sbrk_double.h"
#include "trace_format.hpp"

using namespace hm::trace;

namespace {

double now_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string commas(std::uint64_t v) {
    std::string digits = std::to_string(v), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

// 1,536 -> "1.5 KiB"; below 1 KiB in bytes.
std::string human(std::uint64_t v) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double x = static_cast<double>(v);
    int u = 0;
    while (x >= 1024 && u < 4) {
        x /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0) {
        std::snprintf(buf, sizeof buf, "%" PRIu64 " bytes", v);
    } else {
        std::snprintf(buf, sizeof buf, x < 10 && x != static_cast<int>(x) ? "%.1f %s" : "%.0f %s", x, units[u]);
    }
    return buf;
}

std::string xml(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) out += ' ';
                else out += c;
        }
    }
    return out;
}

// ---- the trace -----------------------------------------------------------------------

struct Event {
    std::uint8_t op, kind;
    std::uint32_t id;
    std::uint64_t size;   // bytes (CALLOC: the element size)
    std::uint64_t extra;  // CALLOC: the count; ALIGNED: the alignment
};

struct Trace {
    std::vector<Event> events;
    std::uint64_t ids = 0;
    std::uint64_t peak_live = 0;
    std::size_t peak_after = 0;  // the live bytes first reach their peak after this many events
    bool has_end = false;
    char program[sizeof(FileHeader::program) + 1] = {};
};

[[noreturn]] void bad_trace(const char* path, const char* why) {
    std::fprintf(stderr, "heapmap: %s: not a valid trace (%s)\n", path, why);
    std::exit(2);
}

Trace load_trace(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        std::fprintf(stderr, "heapmap: cannot open %s: %s\n", path, std::strerror(errno));
        std::exit(2);
    }
    struct stat st {};
    fstat(fd, &st);
    auto bytes = static_cast<std::size_t>(st.st_size);
    if (bytes < sizeof(FileHeader)) bad_trace(path, "too short");
    std::vector<std::uint8_t> data(bytes);
    std::size_t got = 0;
    while (got < bytes) {
        ssize_t n = read(fd, data.data() + got, bytes - got);
        if (n <= 0) bad_trace(path, "cannot read it");
        got += static_cast<std::size_t>(n);
    }
    close(fd);
    Trace t;
    FileHeader h{};
    std::memcpy(&h, data.data(), sizeof h);
    if (std::memcmp(h.magic, MAGIC, sizeof MAGIC) != 0 || h.version != VERSION) bad_trace(path, "no HMTRACE1 header");
    std::memcpy(t.program, h.program, sizeof h.program);

    std::vector<std::uint64_t> size_of;
    std::vector<std::uint8_t> live;
    std::uint64_t live_bytes = 0;
    Reader reader(data.data() + sizeof h, data.data() + bytes);
    Record r{};
    while (!reader.at_end()) {
        if (!reader.next(&r)) bad_trace(path, "malformed or cut-off record");
        if (r.op == OP_THREAD) continue;  // replayed in the order recorded
        if (r.op == OP_END) {
            t.has_end = true;
            continue;
        }
        std::uint64_t id = r.n[0];
        if (id >= UINT32_MAX) bad_trace(path, "id out of range");
        if (id >= live.size()) {
            live.resize(id + 1 + live.size() / 2, 0);
            size_of.resize(live.size(), 0);
        }
        Event e{};
        e.op = r.op;
        e.id = static_cast<std::uint32_t>(id);
        std::uint64_t bytes_now = 0;
        switch (r.op) {
            case OP_MALLOC:
            case OP_REALLOC: e.size = bytes_now = r.n[1]; break;
            case OP_CALLOC:
                e.extra = r.n[1];
                e.size = r.n[2];
                if (__builtin_mul_overflow(e.extra, e.size, &bytes_now)) bad_trace(path, "calloc size overflows");
                break;
            case OP_FREE: break;
            case OP_ALIGNED:
                if (r.n[1] >= KIND_COUNT) bad_trace(path, "unknown memalign kind");
                e.kind = static_cast<std::uint8_t>(r.n[1]);
                e.extra = r.n[2];
                e.size = bytes_now = r.n[3];
                if (e.extra == 0 || (e.extra & (e.extra - 1)) != 0) bad_trace(path, "alignment not a power of two");
                break;
            default: bad_trace(path, "unknown record");
        }
        bool born = r.op == OP_MALLOC || r.op == OP_CALLOC || r.op == OP_ALIGNED;
        if (born == (live[id] != 0)) bad_trace(path, born ? "a live id is born again" : "resize or free of an id that is not live");
        if (!born) live_bytes -= size_of[id];
        if (r.op == OP_FREE) {
            live[id] = 0;
            size_of[id] = 0;
        } else {
            live[id] = 1;
            size_of[id] = bytes_now;
            live_bytes += bytes_now;
        }
        if (id + 1 > t.ids) t.ids = id + 1;
        t.events.push_back(e);
        if (live_bytes > t.peak_live) {
            t.peak_live = live_bytes;
            t.peak_after = t.events.size();
        }
    }
    return t;
}

// ---- the stage ---------------------------------------------------------------------------

hm::test::Api api;
int (*stage_posix_memalign)(void**, std::size_t, std::size_t) = nullptr;
void* (*stage_aligned_alloc)(std::size_t, std::size_t) = nullptr;
void* (*stage_memalign)(std::size_t, std::size_t) = nullptr;
void* (*stage_valloc)(std::size_t) = nullptr;
void* (*stage_pvalloc)(std::size_t) = nullptr;
std::uint64_t emulated_calloc = 0, emulated_realloc = 0, emulated_aligned = 0;

struct Slot {
    char* ptr = nullptr;  // what the program got
    char* raw = nullptr;  // what goes back to hfree (differs for an emulated memalign)
    std::uint64_t size = 0;
    std::uint64_t stamp = 0;
    bool live = false;
};

std::uint64_t next_stamp = 0x5eed0000f00dULL;

void put_stamp(Slot& s) {
    if (s.size >= 8 && s.ptr != nullptr) std::memcpy(s.ptr, &s.stamp, 8);
}
bool stamp_ok(const Slot& s) {
    if (s.size < 8 || s.ptr == nullptr) return true;
    std::uint64_t v;
    std::memcpy(&v, s.ptr, 8);
    return v == s.stamp;
}

// Why the replay stopped early, if it did.
std::string stopped_why;
int exit_status = 0;

// One call of the trace on the stage. False when the replay must stop.
bool replay_one(const Event& e, std::vector<Slot>& slots, std::size_t index) {
    Slot& s = slots[e.id];
    char what[160];
    auto refused = [&](const char* call, std::uint64_t n) {
        std::snprintf(what, sizeof what, "the stage refused %s(%s) at call %s (NULL, errno %d: %s)", call,
                      commas(n).c_str(), commas(index + 1).c_str(), errno, std::strerror(errno));
        stopped_why = what;
        return false;
    };
    auto corrupted = [&](const char* when) {
        std::snprintf(what, sizeof what, "CORRUPTED: block %u (%s bytes) lost its first 8 bytes %s, at call %s", e.id,
                      commas(s.size).c_str(), when, commas(index + 1).c_str());
        stopped_why = what;
        exit_status = 3;
        return false;
    };
    switch (e.op) {
        case OP_MALLOC:
        case OP_CALLOC:
        case OP_ALIGNED: {
            std::uint64_t n = e.op == OP_CALLOC ? e.extra * e.size : e.size;
            void* p = nullptr;
            void* raw = nullptr;
            errno = 0;
            if (e.op == OP_MALLOC) {
                p = raw = api.hmalloc(n);
                if (p == nullptr && n != 0) return refused("malloc", n);
            } else if (e.op == OP_CALLOC) {
                if (api.hcalloc != nullptr) {
                    p = raw = api.hcalloc(e.extra, e.size);
                } else {
                    ++emulated_calloc;
                    p = raw = api.hmalloc(n);
                }
                if (p == nullptr && n != 0) return refused("calloc", n);
            } else {
                std::uint64_t align = e.extra;
                bool done = true;
                switch (e.kind) {
                    case KIND_POSIX_MEMALIGN:
                        if (stage_posix_memalign != nullptr) {
                            int rc = stage_posix_memalign(&p, align, n);
                            if (rc != 0) p = nullptr, errno = rc;
                        } else done = false;
                        break;
                    case KIND_ALIGNED_ALLOC:
                        if (stage_aligned_alloc != nullptr) p = stage_aligned_alloc(align, n); else done = false;
                        break;
                    case KIND_MEMALIGN:
                        if (stage_memalign != nullptr) p = stage_memalign(align, n); else done = false;
                        break;
                    case KIND_VALLOC:
                        if (stage_valloc != nullptr) p = stage_valloc(n); else done = false;
                        break;
                    default:
                        if (stage_pvalloc != nullptr) p = stage_pvalloc(n); else done = false;
                        break;
                }
                raw = p;
                if (!done) {
                    ++emulated_aligned;
                    std::uint64_t total = n + align - 1;
                    if (total < n) return refused("memalign", n);
                    raw = api.hmalloc(total);
                    if (raw == nullptr) return refused("memalign", n);
                    auto at = (reinterpret_cast<std::uintptr_t>(raw) + align - 1) & ~(static_cast<std::uintptr_t>(align) - 1);
                    p = reinterpret_cast<void*>(at);
                }
                if (p == nullptr && n != 0) return refused(KIND_NAME[e.kind], n);
            }
            s.ptr = static_cast<char*>(p);
            s.raw = static_cast<char*>(raw);
            s.size = n;
            s.stamp = ++next_stamp;
            s.live = true;
            put_stamp(s);
            return true;
        }
        case OP_REALLOC: {
            if (!stamp_ok(s)) return corrupted("before it was resized");
            std::uint64_t n = e.size;
            errno = 0;
            if (api.hrealloc != nullptr && s.raw == s.ptr) {
                void* q = api.hrealloc(s.raw, n);
                if (q == nullptr && n != 0) return refused("realloc", n);
                s.ptr = s.raw = static_cast<char*>(q);
            } else {
                ++emulated_realloc;
                void* q = api.hmalloc(n);
                if (q == nullptr && n != 0) return refused("realloc", n);
                if (q != nullptr && s.ptr != nullptr) std::memcpy(q, s.ptr, std::min<std::uint64_t>({s.size, n, 8}));
                api.hfree(s.raw);
                s.ptr = s.raw = static_cast<char*>(q);
            }
            std::uint64_t kept = std::min(s.size, n);
            s.size = n;
            if (kept >= 8 && !stamp_ok(s)) return corrupted("when realloc moved or kept it");
            put_stamp(s);
            return true;
        }
        case OP_FREE:
            if (!stamp_ok(s)) return corrupted("before it was freed");
            api.hfree(s.raw);
            s = Slot{};
            return true;
    }
    return true;
}

// ---- what the heap holds at one moment -----------------------------------------------------

enum Kind { HEADER, LIVE, SLACK, FREE, GAP, PAST, KINDS };
constexpr const char* KIND_NAME_[KINDS] = {"header", "live data", "slack", "free", "gap",
                                           "past the break"};
constexpr const char* KIND_COLOUR[KINDS] = {"#4c5a70", "#2f8f5b", "#e3b23c", "#a9d4f5", "#ffffff", "url(#past)"};

struct Block {
    std::size_t at;  // header, as an offset from the heap's start (mapped: from the mapping's start)
    std::size_t header, size;
    std::size_t live;
    bool free;
};

struct Snapshot {
    bool taken = false;
    std::size_t calls = 0;  // calls replayed before it
    std::size_t brk = 0;    // the break, as bytes from the heap's start
    std::size_t highest = 0;
    sbrk_double_stats sb{};
    mmap_double_stats mm{};
    std::uint64_t live_bytes = 0, live_blocks = 0;
    std::vector<Block> heap, mapped;
    std::vector<Block> small;                  // small blocks: `at` is the offset in the segments drawn end to end
    std::vector<std::size_t> segment_starts;   // ... where each segment begins, on that scale
    std::size_t segment_bytes = 0;             // the segments that hold small blocks
    std::size_t total[KINDS] = {};  // the heap's bytes of each kind (up to the break)
    std::size_t mapped_total[KINDS] = {};
    std::size_t mapped_bytes = 0;  // the mapped blocks' mappings
    std::size_t own_mapped = 0;    // what else the stage has mapped: its own tables (stage 11's map of starts,
                                   // stage 14's table of segments), a segment kept with no live block
    int used_blocks = 0, free_blocks = 0;
};

char* heap_begin = nullptr;
std::size_t start_height = 0, mapped_start = 0;
std::vector<std::pair<std::uintptr_t, std::uint64_t>> live_ptrs;  // sorted: what the program has live

// The bytes of live data in [from, from + n): the program's blocks there.
std::size_t live_in(const char* from, std::size_t n) {
    auto lo = reinterpret_cast<std::uintptr_t>(from), hi = lo + n;
    auto it = std::lower_bound(live_ptrs.begin(), live_ptrs.end(), std::make_pair(lo, std::uint64_t{0}));
    std::size_t sum = 0;
    for (; it != live_ptrs.end() && it->first < hi; ++it) sum += std::min<std::uint64_t>(it->second, hi - it->first);
    return std::min(sum, n);
}

struct Visit {
    std::vector<Block>* out;
    bool mapped;
    // For hwalk_mapped: the live mappings (address order), and where the
    // small blocks go, with the segments that hold them.
    const std::vector<mmap_double_mapping>* mappings = nullptr;
    Snapshot* s = nullptr;
    const char* segment = nullptr;  // the last segment seen
};

// The live mapping that holds `p` (null if none).
const mmap_double_mapping* mapping_of(const std::vector<mmap_double_mapping>& all, const char* p) {
    auto it = std::upper_bound(all.begin(), all.end(), p,
                               [](const char* q, const mmap_double_mapping& m) { return q < m.start; });
    if (it == all.begin()) return nullptr;
    --it;
    return p < it->start + it->length ? &*it : nullptr;
}

void visit(const hm_block_info* b, void* ctx) {
    auto* v = static_cast<Visit*>(ctx);
    const char* header = static_cast<const char*>(b->header);
    Block k{};
    if (v->mappings != nullptr) {
        // A small block: no header, inside a mapping (its segment) that it does not start.
        const mmap_double_mapping* m = mapping_of(*v->mappings, header);
        if (b->header_size == 0 && m != nullptr && m->start != header) {
            if (m->start != v->segment) {  // blocks come in address order: a segment's blocks in a run
                v->segment = m->start;
                v->s->segment_starts.push_back(v->s->segment_bytes);
                v->s->segment_bytes += m->length;
            }
            k.at = v->s->segment_starts.back() + static_cast<std::size_t>(header - m->start);
            k.size = b->size;
            k.live = live_in(static_cast<const char*>(b->payload), b->size);
            v->s->small.push_back(k);
            return;
        }
    }
    k.at = v->mapped ? 0 : static_cast<std::size_t>(header - heap_begin);
    k.header = static_cast<std::size_t>(static_cast<const char*>(b->payload) - header);
    k.size = b->size;
    k.free = b->free != 0;
    k.live = k.free ? 0 : live_in(static_cast<const char*>(b->payload), b->size);
    v->out->push_back(k);
}

Snapshot take(const std::vector<Slot>& slots, std::size_t calls) {
    Snapshot s;
    s.taken = true;
    s.calls = calls;
    s.sb = sbrk_double_get_stats();
    s.mm = mmap_double_get_stats();
    s.brk = static_cast<std::size_t>(sbrk_double_break() - heap_begin);
    s.highest = std::max(s.brk, s.sb.peak - start_height);
    live_ptrs.clear();
    for (const Slot& sl : slots) {
        if (!sl.live) continue;
        ++s.live_blocks;
        s.live_bytes += sl.size;
        if (sl.ptr != nullptr) live_ptrs.emplace_back(reinterpret_cast<std::uintptr_t>(sl.ptr), sl.size);
    }
    std::sort(live_ptrs.begin(), live_ptrs.end());
    s.heap.reserve(s.live_blocks * 2 + 16);
    Visit v{&s.heap, false};
    api.hwalk(visit, &v);
    std::sort(s.heap.begin(), s.heap.end(), [](const Block& a, const Block& b) { return a.at < b.at; });
    std::size_t cursor = 0;
    for (const Block& b : s.heap) {
        if (b.at > cursor) s.total[GAP] += b.at - cursor;
        s.total[HEADER] += b.header;
        if (b.free) {
            ++s.free_blocks;
            s.total[FREE] += b.size;
        } else {
            ++s.used_blocks;
            s.total[LIVE] += b.live;
            s.total[SLACK] += b.size - b.live;
        }
        cursor = b.at + b.header + b.size;
    }
    if (s.brk > cursor) s.total[GAP] += s.brk - cursor;
    if (api.hwalk_mapped != nullptr) {
        std::vector<mmap_double_mapping> mappings(std::size_t{1} << 16);
        mappings.resize(std::min(mappings.size(), mmap_double_mappings(mappings.data(), mappings.size())));
        Visit m{&s.mapped, true, &mappings, &s};
        api.hwalk_mapped(visit, &m);
        for (const Block& b : s.mapped) {
            s.mapped_bytes += b.header + b.size;
            s.mapped_total[HEADER] += b.header;
            s.mapped_total[LIVE] += b.live;
            s.mapped_total[SLACK] += b.size - b.live;
        }
    }
    std::size_t all_mapped = s.mm.live_bytes > mapped_start ? s.mm.live_bytes - mapped_start : 0;
    std::size_t counted = s.mapped_bytes + s.segment_bytes;
    s.own_mapped = all_mapped > counted ? all_mapped - counted : 0;
    return s;
}

// ---- the picture ---------------------------------------------------------------------------

constexpr int COLS = 64, HEAP_ROWS = 40, MAP_ROWS = 8;
constexpr double LEFT = 96, CELL_W = 12, CELL_H = 14, ROW_GAP = 3;
constexpr double PLOT_W = COLS * CELL_W;

using Cells = std::vector<std::array<double, KINDS>>;

void add(Cells& cells, std::size_t from, std::size_t to, Kind k, std::size_t K) {
    while (from < to) {
        std::size_t c = from / K;
        std::size_t end = std::min(to, (c + 1) * K);
        if (c >= cells.size()) return;
        cells[c][k] += static_cast<double>(end - from);
        from = end;
    }
}

std::size_t scale_for(std::size_t bytes, int rows) {
    std::size_t K = 16;
    while (K * COLS * static_cast<std::size_t>(rows) < bytes) K *= 2;
    return K;
}

// The bands of one cell, from the bottom: header, live, slack, free, then
// (empty) gap; the hatched share past the break sits at the top. Every share
// that is not zero is at least one pixel high (taken from the largest band), so
// a lone small block in a large cell still shows.
void bands(const std::array<double, KINDS>& cell, std::size_t K, double y_row, double* y, double* h) {
    double total = 0;
    int largest = HEADER;
    for (int k = 0; k < KINDS; ++k) {
        h[k] = cell[k] / static_cast<double>(K) * CELL_H;
        if (k != GAP && k != PAST && cell[k] > 0 && h[k] < 1) h[k] = 1;
        if (k != GAP && k != PAST && h[k] > h[largest]) largest = k;
        total += h[k];
    }
    if (total > CELL_H) h[largest] = std::max(0.0, h[largest] - (total - CELL_H));
    double bottom = y_row + CELL_H;
    for (int k = 0; k < KINDS; ++k) {
        h[k] = std::round(h[k] * 10) / 10;
        if (k == PAST) {
            y[k] = y_row;
        } else {
            bottom -= h[k];
            y[k] = std::round(bottom * 10) / 10;
        }
    }
}

// One path per kind: every cell's band, merged along a row where they line up.
void draw_cells(std::FILE* f, const Cells& cells, std::size_t K, double top) {
    std::string d[KINDS];
    for (std::size_t row = 0; row * COLS < cells.size(); ++row) {
        double y_row = top + static_cast<double>(row) * (CELL_H + ROW_GAP);
        double run_x[KINDS] = {}, run_w[KINDS] = {}, run_y[KINDS] = {}, run_h[KINDS] = {};
        auto close_run = [&](int k) {
            if (run_w[k] > 0 && run_h[k] > 0.04) {
                char buf[96];
                std::snprintf(buf, sizeof buf, "M%.1f %.1fh%.1fv%.1fh-%.1fz", run_x[k], run_y[k], run_w[k], run_h[k], run_w[k]);
                d[k] += buf;
            }
            run_w[k] = 0;
        };
        for (std::size_t c = row * COLS; c < cells.size() && c < (row + 1) * COLS; ++c) {
            double y[KINDS], h[KINDS];
            bands(cells[c], K, y_row, y, h);
            double x = LEFT + static_cast<double>(c - row * COLS) * CELL_W;
            for (int k = 0; k < KINDS; ++k) {
                if (k == GAP) continue;
                if (run_w[k] > 0 && h[k] == run_h[k] && y[k] == run_y[k] && std::abs(run_x[k] + run_w[k] - x) < 0.01) {
                    run_w[k] += CELL_W;
                } else {
                    close_run(k);
                    if (h[k] > 0) run_x[k] = x, run_y[k] = y[k], run_h[k] = h[k], run_w[k] = CELL_W;
                }
            }
        }
        for (int k = 0; k < KINDS; ++k) close_run(k);
    }
    for (int k = 0; k < KINDS; ++k)
        if (!d[k].empty()) std::fprintf(f, "<path fill=\"%s\" d=\"%s\"/>\n", KIND_COLOUR[k], d[k].c_str());
}

// Outlines of the rows, and offsets at their left.
double draw_rows(std::FILE* f, std::size_t cells, std::size_t K, double top, bool offsets) {
    std::size_t rows = (cells + COLS - 1) / COLS;
    for (std::size_t r = 0; r < rows; ++r) {
        double y = top + static_cast<double>(r) * (CELL_H + ROW_GAP);
        std::size_t in_row = std::min<std::size_t>(COLS, cells - r * COLS);
        std::fprintf(f, "<rect x=\"%.0f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#bbb\" stroke-width=\"0.6\"/>\n",
                     LEFT, y, static_cast<double>(in_row) * CELL_W, CELL_H);
        if (offsets && (r % 2 == 0 || rows <= 12))
            std::fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"10\" fill=\"#555\" text-anchor=\"end\">+%s</text>\n",
                         LEFT - 6, y + 11, human(r * COLS * K).c_str());
    }
    return top + static_cast<double>(rows) * (CELL_H + ROW_GAP);
}

// The x, y of byte offset `at` on rows of cells of K bytes.
std::pair<double, double> spot(std::size_t at, std::size_t K, double top, bool an_end) {
    std::size_t cell = at / K;
    std::size_t row = cell / COLS;
    if (an_end && at != 0 && at % (K * COLS) == 0) --row;  // an end at a row's end belongs to that row
    double x = LEFT + (static_cast<double>(at) / static_cast<double>(K) - static_cast<double>(row * COLS)) * CELL_W;
    return {x, top + static_cast<double>(row) * (CELL_H + ROW_GAP)};
}

struct Picture {
    std::FILE* f;
    double y;  // where the next thing goes
};

void text(Picture& p, double size, const std::string& s, const char* colour = "#222", const char* weight = "normal") {
    p.y += size + 5;
    std::fprintf(p.f, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"%.0f\" fill=\"%s\" font-weight=\"%s\">%s</text>\n", LEFT,
                 p.y, size, colour, weight, xml(s).c_str());
}

std::string os_calls(const Snapshot& s) {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "calls to the OS so far: sbrk/brk %s (%s grow, %s shrink, %s ask where the break is; %s of them brk), "
                  "mmap %s, munmap %s, mremap %s",
                  commas(s.sb.calls).c_str(), commas(s.sb.grows).c_str(), commas(s.sb.shrinks).c_str(),
                  commas(s.sb.queries).c_str(), commas(s.sb.brk_calls).c_str(), commas(s.mm.maps).c_str(),
                  commas(s.mm.unmaps).c_str(), commas(s.mm.remaps).c_str());
    return buf;
}

std::string live_line(const Snapshot& s) {
    std::size_t footprint = s.brk + s.mapped_bytes + s.segment_bytes + s.own_mapped;
    char own[200] = "";
    int n = 0;
    if (s.segment_bytes != 0)
        n = std::snprintf(own, sizeof own, " + segments %s", commas(s.segment_bytes).c_str());
    if (s.own_mapped != 0)
        std::snprintf(own + n, sizeof own - static_cast<std::size_t>(n), " + %s the stage mapped for its own tables",
                      commas(s.own_mapped).c_str());
    char buf[500];
    std::snprintf(buf, sizeof buf,
                  "live %s bytes in %s blocks; footprint %s bytes (break heap %s + mapped blocks %s%s): live is %.1f%% of it",
                  commas(s.live_bytes).c_str(), commas(s.live_blocks).c_str(), commas(footprint).c_str(),
                  commas(s.brk).c_str(), commas(s.mapped_bytes).c_str(), own,
                  footprint ? 100.0 * static_cast<double>(s.live_bytes) / static_cast<double>(footprint) : 0.0);
    return buf;
}

std::string heap_line(const Snapshot& s) {
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "break heap: %s used blocks, %s free; headers %s, slack %s, free %s, gap %s bytes (highest break so far %s)",
                  commas(static_cast<std::uint64_t>(s.used_blocks)).c_str(),
                  commas(static_cast<std::uint64_t>(s.free_blocks)).c_str(), commas(s.total[HEADER]).c_str(),
                  commas(s.total[SLACK]).c_str(), commas(s.total[FREE]).c_str(), commas(s.total[GAP]).c_str(),
                  commas(s.highest).c_str());
    return buf;
}

// Blocks drawn end to end on rows of cells of KM bytes (the mapped blocks, or
// the segments of small blocks), with a line where each mapping begins.
void draw_mappings(Picture& p, const std::vector<Block>& blocks, const std::vector<std::size_t>& starts,
                   std::size_t bytes, std::size_t KM) {
    p.y += 6;
    Cells mc((bytes + KM - 1) / KM);
    for (const Block& b : blocks) {
        add(mc, b.at, b.at + b.header, HEADER, KM);
        add(mc, b.at + b.header, b.at + b.header + b.live, LIVE, KM);
        add(mc, b.at + b.header + b.live, b.at + b.header + b.size, SLACK, KM);
    }
    if (mc.empty()) mc.resize(1);
    double top = p.y;
    double bottom = draw_rows(p.f, mc.size(), KM, top, false);
    draw_cells(p.f, mc, KM, top);
    for (std::size_t i = 1; i < starts.size(); ++i) {
        auto [x, y] = spot(starts[i], KM, top, false);
        std::fprintf(p.f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#111\" stroke-width=\"1\"/>\n",
                     x, y - 1, x, y + CELL_H + 1);
    }
    p.y = bottom;
}

std::string small_line(const Snapshot& s) {
    std::size_t live = 0, size = 0;
    for (const Block& b : s.small) live += b.live, size += b.size;
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "small blocks (no header, in pages of one size class): %s live in %s segments, %s bytes; live data %s, "
                  "slack %s",
                  commas(s.small.size()).c_str(), commas(s.segment_starts.size()).c_str(), commas(s.segment_bytes).c_str(),
                  commas(live).c_str(), commas(size - live).c_str());
    return buf;
}

void panel(Picture& p, const Snapshot& s, const char* heading, std::size_t H, std::size_t K, std::size_t M,
           std::size_t KM, std::size_t KS, bool has_mapped_walk) {
    p.y += 14;
    text(p, 14, heading, "#111", "bold");
    text(p, 11, live_line(s));
    text(p, 11, heap_line(s));
    text(p, 11, os_calls(s));
    p.y += 10;
    Cells cells((H + K - 1) / K);
    std::size_t cursor = 0;
    for (const Block& b : s.heap) {
        if (b.at > cursor) add(cells, cursor, b.at, GAP, K);
        add(cells, b.at, b.at + b.header, HEADER, K);
        if (b.free) {
            add(cells, b.at + b.header, b.at + b.header + b.size, FREE, K);
        } else {
            add(cells, b.at + b.header, b.at + b.header + b.live, LIVE, K);
            add(cells, b.at + b.header + b.live, b.at + b.header + b.size, SLACK, K);
        }
        cursor = b.at + b.header + b.size;
    }
    if (s.brk > cursor) add(cells, cursor, s.brk, GAP, K);
    if (H > s.brk) add(cells, s.brk, H, PAST, K);
    if (cells.empty()) cells.resize(1);
    double top = p.y;
    double bottom = draw_rows(p.f, cells.size(), K, top, true);
    draw_cells(p.f, cells, K, top);
    auto [bx, by] = spot(s.brk, K, top, true);
    std::fprintf(p.f,
                 "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d62728\" stroke-width=\"2.5\"/>\n"
                 "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#d62728\" text-anchor=\"middle\">break</text>\n",
                 bx, by - 2, bx, by + CELL_H + 2, bx, by - 3);
    p.y = bottom;
    // The mapped blocks, apart.
    if (!has_mapped_walk) {
        text(p, 11, "mapped blocks: none (before stage 09 every block is on the break heap)", "#555");
        return;
    }
    (void)M;
    if (s.mapped.empty()) {
        text(p, 11, "mapped blocks: none at this point", "#555");
    } else {
        char buf[200];
        std::snprintf(buf, sizeof buf, "mapped blocks: %s mappings, %s bytes, end to end in address order (a line between two); one cell is %s",
                      commas(s.mapped.size()).c_str(), commas(s.mapped_bytes).c_str(), human(KM).c_str());
        text(p, 11, buf, "#333");
        std::vector<Block> ends;  // the mapped blocks end to end
        std::vector<std::size_t> starts;
        std::size_t at = 0;
        for (Block b : s.mapped) {
            starts.push_back(at);
            b.at = at;
            at += b.header + b.size;
            ends.push_back(b);
        }
        draw_mappings(p, ends, starts, at, KM);
    }
    // The segments of small blocks (stage 14 on), apart again.
    if (s.small.empty()) return;
    text(p, 11, small_line(s) + "; segments end to end, one cell is " + human(KS), "#333");
    draw_mappings(p, s.small, s.segment_starts, s.segment_bytes, KS);
}

void print_figures(const char* heading, const Snapshot& s) {
    std::printf("  %s\n    %s\n    %s\n", heading, live_line(s).c_str(), heap_line(s).c_str());
    if (!s.mapped.empty())
        std::printf("    mapped: %zu mappings, %s bytes\n", s.mapped.size(), commas(s.mapped_bytes).c_str());
    if (!s.small.empty()) std::printf("    %s\n", small_line(s).c_str());
    std::printf("    %s\n", os_calls(s).c_str());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--calls") == 0) {  // for bench/heapmap-cmd: which trace to draw
        Trace t = load_trace(argv[2]);
        std::printf("%" PRIu64 " %zu\n", t.peak_live, t.events.size());
        return 0;
    }
    const char* positional[4] = {};
    int np = 0;
    double cap = 0;
    std::string command;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--cap-seconds") == 0 && i + 1 < argc) {
            char* end = nullptr;
            cap = std::strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || cap < 0) {
                std::fprintf(stderr, "heapmap: the cap must be a number of seconds (0: none), got '%s'\n", argv[i]);
                return 64;
            }
        } else if (std::strcmp(argv[i], "--command") == 0 && i + 1 < argc) {
            command = argv[++i];
        } else if (np < 4) {
            positional[np++] = argv[i];
        } else {
            np = 5;
        }
    }
    if (np != 4) {
        std::fprintf(stderr, "usage: heapmap-trace LIB TRACE OUT.svg TITLE [--cap-seconds S] [--command TEXT]\n");
        return 64;
    }
    const char* lib = positional[0];
    const char* trace_path = positional[1];
    const char* out = positional[2];
    std::string title = positional[3];

    (void)sbrk_double_break();  // the region is reserved before the stage is loaded
    const char* why = hm::test::load_api(lib, &api);
    if (why != nullptr) {
        std::fprintf(stderr, "heapmap: cannot load the stage %s: %s\n", lib, why);
        return 1;
    }
    {
        Dl_info info{};
        dladdr(reinterpret_cast<void*>(api.hmalloc), &info);
        auto get = [&](auto& fn, const char* name) {
            fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(hm::test::own_symbol(api.handle, info.dli_fbase, name));
        };
        get(stage_posix_memalign, "posix_memalign");
        get(stage_aligned_alloc, "aligned_alloc");
        get(stage_memalign, "memalign");
        get(stage_valloc, "valloc");
        get(stage_pvalloc, "pvalloc");
    }
    Trace t = load_trace(trace_path);
    std::vector<Slot> slots(t.ids ? t.ids : 1);

    heap_begin = sbrk_double_break();
    start_height = static_cast<std::size_t>(heap_begin - sbrk_double_region());
    sbrk_double_reset_stats();
    mmap_double_reset_stats();
    mapped_start = mmap_double_get_stats().live_bytes;

    Snapshot at_peak, at_end;
    double start = now_seconds(), deadline = cap > 0 ? start + cap : 0;
    std::size_t done = 0, n = t.events.size();
    bool over_cap = false;
    for (; done < n; ++done) {
        if (deadline != 0 && now_seconds() > deadline) {
            over_cap = true;
            break;
        }
        if (!replay_one(t.events[done], slots, done)) break;
        if (done + 1 == t.peak_after) at_peak = take(slots, done + 1);
    }
    double seconds = now_seconds() - start;
    at_end = take(slots, done);

    char status[300] = "";
    if (over_cap) {
        std::snprintf(status, sizeof status,
                      "OVER THE CAP: replayed %s of %s calls in %.3g s (CAP=%g s); the stage is too slow for the whole trace, "
                      "drawn where it stopped",
                      commas(done).c_str(), commas(n).c_str(), seconds, cap);
    } else if (!stopped_why.empty()) {
        std::snprintf(status, sizeof status, "STOPPED: %s; replayed %s of %s calls, drawn where it stopped",
                      stopped_why.c_str(), commas(done).c_str(), commas(n).c_str());
    }

    // One scale for both pictures: the highest the break went.
    std::size_t H = std::max<std::size_t>(at_end.highest, 1);
    std::size_t K = scale_for(H, HEAP_ROWS);
    std::size_t M = std::max(at_peak.mapped_bytes, at_end.mapped_bytes);
    std::size_t KM = scale_for(std::max<std::size_t>(M, 1), MAP_ROWS);
    std::size_t KS = scale_for(std::max<std::size_t>({at_peak.segment_bytes, at_end.segment_bytes, 1}), MAP_ROWS);

    // The body is drawn into memory: the height is known only at the end.
    char* body = nullptr;
    std::size_t body_size = 0;
    std::FILE* f = open_memstream(&body, &body_size);
    if (f == nullptr) {
        std::fprintf(stderr, "heapmap: out of memory\n");
        return 1;
    }
    double width = LEFT + std::max(PLOT_W, 1180.0 - LEFT) + 20;
    std::fprintf(f,
                 "<defs><pattern id=\"past\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\" "
                 "patternTransform=\"rotate(45)\"><rect width=\"5\" height=\"5\" fill=\"#f2f2f2\"/>"
                 "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\" stroke=\"#bbb\" stroke-width=\"1.5\"/></pattern></defs>\n"
                 "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
    Picture p{f, 8};
    text(p, 17, title, "#111", "bold");
    if (!command.empty()) text(p, 12, "command: " + command, "#333");
    {
        char buf[400];
        std::snprintf(buf, sizeof buf, "trace of %s: %s calls (%s); live bytes peak at %s after call %s",
                      t.program, commas(n).c_str(), t.has_end ? "the process exited normally" : "no END record: the process was killed or exec'd",
                      commas(t.peak_live).c_str(), commas(t.peak_after).c_str());
        text(p, 12, buf, "#333");
    }
    if (status[0] != '\0') text(p, 13, status, "#c00000", "bold");
    {
        char buf[400];
        std::snprintf(buf, sizeof buf,
                      "Summarised: one cell is %s of the break heap (%s a row), filled from the bottom with the share of its "
                      "bytes that is (a share, however small, shows at least 1 pixel high)",
                      human(K).c_str(), human(K * COLS).c_str());
        text(p, 12, buf, "#333");
    }
    // The legend.
    p.y += 6;
    for (int k = 0; k < KINDS; ++k) {
        double x = LEFT + k * 170.0;
        std::fprintf(f, "<rect x=\"%.0f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\" stroke=\"#999\" stroke-width=\"0.6\"/>\n",
                     x, p.y, KIND_COLOUR[k]);
        std::fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\">%s</text>\n", x + 17, p.y + 10,
                     k == GAP ? "gap (empty)" : KIND_NAME_[k]);
    }
    p.y += 14;
    text(p, 11,
         "Left empty: gap (bytes in no block). The heap is drawn up to the highest break of the replay, on the same scale in both pictures; the red line is the break.",
         "#555");

    char heading[200];
    if (at_peak.taken) {
        std::snprintf(heading, sizeof heading, "At the peak of live bytes: after call %s of %s", commas(at_peak.calls).c_str(),
                      commas(n).c_str());
        panel(p, at_peak, heading, H, K, M, KM, KS, api.hwalk_mapped != nullptr);
    } else {
        std::snprintf(heading, sizeof heading, "The peak of live bytes (after call %s) was not reached",
                      commas(t.peak_after).c_str());
        p.y += 10;
        text(p, 14, heading, "#c00000", "bold");
    }
    if (done == n)
        std::snprintf(heading, sizeof heading, "At the end: after call %s of %s (the blocks the program never freed are live)",
                      commas(done).c_str(), commas(n).c_str());
    else
        std::snprintf(heading, sizeof heading, "Where the replay stopped: after call %s of %s", commas(done).c_str(),
                      commas(n).c_str());
    panel(p, at_end, heading, H, K, M, KM, KS, api.hwalk_mapped != nullptr);
    if (emulated_calloc + emulated_realloc + emulated_aligned != 0) {
        char buf[300];
        std::snprintf(buf, sizeof buf,
                      "Done with the calls the stage has: %s calloc (as hmalloc), %s realloc (hmalloc + copy + hfree), "
                      "%s memalign family (hmalloc of size + alignment - 1)",
                      commas(emulated_calloc).c_str(), commas(emulated_realloc).c_str(), commas(emulated_aligned).c_str());
        p.y += 8;
        text(p, 11, buf, "#555");
    }
    p.y += 8;
    text(p, 10,
         "Drawn by bench/heapmap_trace.cpp: the trace replayed on the stage's own functions, its sbrk/brk and mmap calls "
         "counted by common/sbrk_double.cpp and common/mmap_double.cpp.",
         "#777");
    std::fprintf(f, "</svg>\n");
    std::fclose(f);
    double height = p.y + 16;
    std::FILE* svg = std::fopen(out, "w");
    if (svg == nullptr) {
        std::fprintf(stderr, "heapmap: cannot write %s: %s\n", out, std::strerror(errno));
        return 1;
    }
    std::fprintf(svg,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                 "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
                 width, height, width, height);
    std::fwrite(body, 1, body_size, svg);
    if (std::fclose(svg) != 0) {
        std::fprintf(stderr, "heapmap: cannot write %s\n", out);
        return 1;
    }
    std::free(body);

    std::printf("%s\n", title.c_str());
    std::printf("  drawn: %s (one cell is %s of the heap", out, human(K).c_str());
    if (M != 0) std::printf(", %s of the mapped blocks", human(KM).c_str());
    if (at_peak.segment_bytes + at_end.segment_bytes != 0) std::printf(", %s of the segments", human(KS).c_str());
    std::printf(")\n");
    std::printf("  trace: %s calls by %s; live bytes peak at %s after call %s%s\n", commas(n).c_str(), t.program,
                commas(t.peak_live).c_str(), commas(t.peak_after).c_str(),
                t.has_end ? "" : " (no END record: the process was killed by a signal or exec'd)");
    if (status[0] != '\0') std::printf("  %s\n", status);
    else std::printf("  replayed all %s calls in %.3g s\n", commas(n).c_str(), seconds);
    if (at_peak.taken) {
        std::snprintf(heading, sizeof heading, "at the peak (after call %s):", commas(at_peak.calls).c_str());
        print_figures(heading, at_peak);
    } else {
        std::printf("  the peak (after call %s) was not reached\n", commas(t.peak_after).c_str());
    }
    std::snprintf(heading, sizeof heading, "%s (after call %s):", done == n ? "at the end" : "where it stopped",
                  commas(done).c_str());
    print_figures(heading, at_end);
    if (emulated_calloc + emulated_realloc + emulated_aligned != 0)
        std::printf("  emulated with the calls the stage has: %s calloc, %s realloc, %s memalign family\n",
                    commas(emulated_calloc).c_str(), commas(emulated_realloc).c_str(), commas(emulated_aligned).c_str());
    return exit_status;
}
