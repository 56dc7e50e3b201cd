// bench/gen.cpp: writes the bench's synthetic workloads as traces.
//
// Not part of any lesson. Each workload is a trace in the recorder's format
// (bench/trace_format.hpp), so the replayer runs and checks it exactly as it
// runs a real program's trace. Every workload has a fixed seed: the same
// files, byte for byte, on every machine.
//
// Usage: gen [--scale X] DIR      writes DIR/<workload>.hmt for each workload
//        gen --list               names and one-line descriptions
//        gen --live N --steady S FILE
//                                 the "cost as the heap grows" workload: N small
//                                 blocks made live, then S calls that keep N live
//
// --scale multiplies the number of operations (1 is the bench's default).
#include <sys/stat.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "trace_format.hpp"

using namespace hm::trace;

namespace {

// ---- randomness, the same everywhere ---------------------------------------------
//
// splitmix64, and our own mappings to ranges: the standard library's
// distributions differ between implementations.

class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [lo, hi].
    std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + next() % (hi - lo + 1); }
    // Uniform in [0, 1).
    double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
    // Log-uniform in [lo, hi]: as many sizes between 64 and 128 as between 1024 and 2048.
    std::uint64_t log_between(std::uint64_t lo, std::uint64_t hi) {
        double l = std::log(static_cast<double>(lo)), h = std::log(static_cast<double>(hi));
        auto v = static_cast<std::uint64_t>(std::exp(l + unit() * (h - l)));
        return v < lo ? lo : v > hi ? hi : v;
    }
    bool chance(double p) { return unit() < p; }

private:
    std::uint64_t state_;
};

// ---- writing a trace ----------------------------------------------------------------

class Writer {
public:
    explicit Writer(const char* name) {
        FileHeader h = make_header(FLAG_SYNTHETIC, 0, 0, name);
        bytes_.resize(sizeof h);
        std::memcpy(bytes_.data(), &h, sizeof h);
        put(OP_THREAD, 1);
    }

    // A new block of `size` bytes; returns its id.
    std::uint32_t malloc(std::uint64_t size) {
        std::uint32_t id = take_id();
        put(OP_MALLOC, id, size);
        return id;
    }
    std::uint32_t calloc(std::uint64_t count, std::uint64_t size) {
        std::uint32_t id = take_id();
        put(OP_CALLOC, id, count, size);
        return id;
    }
    std::uint32_t aligned(AlignedKind kind, std::uint64_t alignment, std::uint64_t size) {
        std::uint32_t id = take_id();
        put(OP_ALIGNED, id, kind, alignment, size);
        return id;
    }
    void realloc(std::uint32_t id, std::uint64_t size) { put(OP_REALLOC, id, size); }
    void free(std::uint32_t id) {
        put(OP_FREE, id);
        free_ids_.push_back(id);
    }
    std::uint64_t ops() const { return ops_; }

    bool save(const std::string& path) {
        put(OP_END, ops_, 0, 1);
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (f == nullptr) return false;
        bool ok = std::fwrite(bytes_.data(), 1, bytes_.size(), f) == bytes_.size();
        return std::fclose(f) == 0 && ok;
    }

private:
    std::uint32_t take_id() {
        if (!free_ids_.empty()) {
            std::uint32_t id = free_ids_.back();
            free_ids_.pop_back();
            return id;
        }
        return next_id_++;
    }
    void put(Op op, std::uint64_t a = 0, std::uint64_t b = 0, std::uint64_t c = 0, std::uint64_t d = 0) {
        std::uint8_t record[MAX_RECORD];
        std::size_t n = put_record(record, op, a, b, c, d, numbers_of(op));
        bytes_.insert(bytes_.end(), record, record + n);
        if (op != OP_THREAD && op != OP_END) ++ops_;
    }

    std::vector<std::uint8_t> bytes_;
    std::vector<std::uint32_t> free_ids_;
    std::uint32_t next_id_ = 0;
    std::uint64_t ops_ = 0;
};

// A set of live blocks from which a random one can be taken in O(1).
struct LiveSet {
    std::vector<std::uint32_t> ids;
    void add(std::uint32_t id) { ids.push_back(id); }
    std::uint32_t take_random(Rng& rng) {
        std::size_t i = static_cast<std::size_t>(rng.next() % ids.size());
        std::uint32_t id = ids[i];
        ids[i] = ids.back();
        ids.pop_back();
        return id;
    }
    bool empty() const { return ids.empty(); }
    std::size_t size() const { return ids.size(); }
};

std::uint64_t scaled(double scale, std::uint64_t n) {
    auto v = static_cast<std::uint64_t>(static_cast<double>(n) * scale);
    return v < 1 ? 1 : v;
}

// ---- the workloads ----------------------------------------------------------------------

// Small same-size churn: a ring of 100 blocks of 48 bytes; each step frees
// the oldest and allocates a new one. The best case for any allocator: the
// block just freed fits the next request exactly.
void churn(Writer& w, double scale) {
    constexpr int RING = 100;
    std::uint32_t ring[RING];
    for (auto& id : ring) id = w.malloc(48);
    std::uint64_t steps = scaled(scale, 500000);
    for (std::uint64_t s = 0; s < steps; ++s) {
        int i = static_cast<int>(s % RING);
        w.free(ring[i]);
        ring[i] = w.malloc(48);
    }
    for (auto id : ring) w.free(id);
}

// Random sizes, random lifetimes, around a large live set: 20,000 blocks live
// (mostly small, a few up to 64 KiB), then each step frees a random live
// block or allocates, keeping the live set between 18,000 and 22,000.
std::uint64_t random_size(Rng& rng) {
    double u = rng.unit();
    if (u < 0.60) return rng.between(8, 128);
    if (u < 0.90) return rng.between(129, 1024);
    if (u < 0.99) return rng.between(1025, 8192);
    return rng.between(8193, 65536);
}

void random_live(Writer& w, double scale) {
    Rng rng(0x4d595df4d0f33173ull);
    LiveSet live;
    const std::size_t target = 20000;
    for (std::size_t i = 0; i < target; ++i) live.add(w.malloc(random_size(rng)));
    std::uint64_t steps = scaled(scale, 200000);
    for (std::uint64_t s = 0; s < steps; ++s) {
        bool allocate = live.size() < target * 9 / 10 ? true
                        : live.size() > target * 11 / 10 ? false
                                                          : rng.chance(0.5);
        if (allocate) {
            live.add(rng.chance(0.1) ? w.calloc(rng.between(1, 16), rng.between(8, 64)) : w.malloc(random_size(rng)));
        } else {
            w.free(live.take_random(rng));
        }
    }
}

// Realloc growth: 64 buffers grow at once, each either like a vector (by
// half again) or like a string being appended to (by 16 to 96 bytes), up to
// a size between 1 KiB and 256 KiB, then are freed and replaced. Short-lived
// small blocks come and go in between, so a buffer's neighbour is often taken.
void realloc_growth(Writer& w, double scale) {
    Rng rng(0x2545F4914F6CDD1Dull);
    constexpr int BUFFERS = 64;
    struct Buffer {
        std::uint32_t id;
        std::uint64_t size, target;
        bool vector_like;
    };
    auto fresh = [&](Buffer& b) {
        b.size = rng.between(16, 64);
        b.target = rng.log_between(1024, 256 * 1024);
        b.vector_like = rng.chance(0.5);
        b.id = w.malloc(b.size);
    };
    Buffer buffers[BUFFERS];
    for (auto& b : buffers) fresh(b);
    std::vector<std::uint32_t> small;
    std::uint64_t steps = scaled(scale, 150000);
    for (std::uint64_t s = 0; s < steps; ++s) {
        if (rng.chance(0.25)) {
            small.push_back(w.malloc(rng.between(16, 200)));
            if (small.size() > 32) {
                std::size_t i = static_cast<std::size_t>(rng.next() % small.size());
                w.free(small[i]);
                small[i] = small.back();
                small.pop_back();
            }
            continue;
        }
        Buffer& b = buffers[rng.next() % BUFFERS];
        if (b.size >= b.target) {
            w.free(b.id);
            fresh(b);
            continue;
        }
        b.size = b.vector_like ? b.size + b.size / 2 : b.size + rng.between(16, 96);
        w.realloc(b.id, b.size);
    }
    for (auto& b : buffers) w.free(b.id);
    for (auto id : small) w.free(id);
}

// Fragmentation: fill the heap with small blocks, free three in four at
// random (the fourth stays, pinning the holes apart), then ask for blocks
// too big for one hole: an allocator that cannot place them between the
// survivors must take more memory. Three rounds with different sizes; the
// interesting figure is the heap's peak against the live data's.
void fragmentation(Writer& w, double scale) {
    Rng rng(0x9FB21C651E98DF25ull);
    LiveSet pinned;
    std::uint64_t small_count = scaled(scale, 8000);
    const std::uint64_t rounds[3][4] = {
        // small lo, small hi, big lo, big hi
        {32, 96, 200, 600},
        {16, 48, 100, 300},
        {64, 256, 700, 2000},
    };
    for (const auto& r : rounds) {
        LiveSet fresh;
        for (std::uint64_t i = 0; i < small_count; ++i) fresh.add(w.malloc(rng.between(r[0], r[1])));
        // Three in four die, at random.
        for (auto id : fresh.ids) {
            if (rng.chance(0.75)) {
                w.free(id);
            } else {
                pinned.add(id);
            }
        }
        LiveSet big;
        for (std::uint64_t i = 0; i < small_count / 4; ++i) big.add(w.malloc(rng.between(r[2], r[3])));
        // The big ones die, and half of the survivors so far.
        for (auto id : big.ids) w.free(id);
        std::size_t half = pinned.size() / 2;
        for (std::size_t i = 0; i < half; ++i) w.free(pinned.take_random(rng));
    }
}

// Large blocks: 8 live at once, each from 64 KiB to 4 MiB; each step frees
// one and allocates another, or grows one by half (realloc), or asks for a
// page-aligned one. Above glibc's mmap threshold: what matters is how the
// allocator asks the OS for memory and gives it back.
void large(Writer& w, double scale) {
    Rng rng(0xD1B54A32D192ED03ull);
    constexpr int LIVE = 8;
    std::uint32_t ids[LIVE];
    std::uint64_t sizes[LIVE];
    for (int i = 0; i < LIVE; ++i) ids[i] = w.malloc(sizes[i] = rng.log_between(64 * 1024, 4 << 20));
    std::uint64_t steps = scaled(scale, 1200);
    for (std::uint64_t s = 0; s < steps; ++s) {
        int i = static_cast<int>(rng.next() % LIVE);
        double u = rng.unit();
        if (u < 0.2 && sizes[i] < (8u << 20)) {
            sizes[i] += sizes[i] / 2;
            w.realloc(ids[i], sizes[i]);
        } else {
            w.free(ids[i]);
            sizes[i] = rng.log_between(64 * 1024, 4 << 20);
            ids[i] = u < 0.3 ? w.aligned(KIND_POSIX_MEMALIGN, 4096, sizes[i]) : w.malloc(sizes[i]);
        }
    }
    for (auto id : ids) w.free(id);
}

// The cost as the heap grows: `live` small blocks (16 bytes to 1 KiB, most
// under 128) are allocated, then `steady` calls alternate freeing a random
// live block and allocating a new one, so `live` blocks stay live. The first
// `live` calls build the heap; the rate and the instructions per call are
// measured over the rest (replay --measure-from live).
void live_set(Writer& w, std::uint64_t live, std::uint64_t steady) {
    Rng rng(0x2545f4914f6cdd1dull ^ live);
    auto size = [&rng] { return rng.chance(0.7) ? rng.between(16, 128) : rng.between(129, 1024); };
    LiveSet set;
    for (std::uint64_t i = 0; i < live; ++i) set.add(w.malloc(size()));
    for (std::uint64_t s = 0; s < steady / 2; ++s) {
        w.free(set.take_random(rng));
        set.add(w.malloc(size()));
    }
}

struct Workload {
    const char* name;
    void (*make)(Writer&, double);
    const char* what;
};

constexpr Workload WORKLOADS[] = {
    {"churn", churn, "small same-size churn: 1M calls, 100 blocks of 48 bytes in a ring"},
    {"random-live", random_live, "random sizes and lifetimes around 20,000 live blocks (420k calls)"},
    {"realloc-growth", realloc_growth, "64 buffers grown by realloc to 1-256 KiB, small blocks in between"},
    {"fragmentation", fragmentation, "8,000 small blocks, 3 in 4 freed, then bigger ones: the heap's peak"},
    {"large", large, "blocks of 64 KiB to 4 MiB, 8 live, some grown, some page-aligned"},
};

}  // namespace

int main(int argc, char** argv) {
    double scale = 1;
    const char* dir = nullptr;
    std::uint64_t live = 0, steady = 200000;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--live") == 0 && i + 1 < argc) {
            live = std::strtoull(argv[++i], nullptr, 10);
            continue;
        }
        if (std::strcmp(argv[i], "--steady") == 0 && i + 1 < argc) {
            steady = std::strtoull(argv[++i], nullptr, 10);
            continue;
        }
        if (std::strcmp(argv[i], "--list") == 0) {
            for (const auto& wl : WORKLOADS) std::printf("%-15s %s\n", wl.name, wl.what);
            return 0;
        }
        if (std::strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
            scale = std::strtod(argv[++i], nullptr);
        } else if (argv[i][0] != '-' && dir == nullptr) {
            dir = argv[i];
        } else {
            std::fprintf(stderr, "usage: gen [--scale X] DIR | gen --list\n");
            return 64;
        }
    }
    if (dir == nullptr || scale <= 0) {
        std::fprintf(stderr, "usage: gen [--scale X] DIR | gen --list | gen --live N --steady S FILE\n");
        return 64;
    }
    if (live != 0) {  // one file: the cost as the heap grows
        std::string name = "live-" + std::to_string(live);
        Writer w(name.c_str());
        live_set(w, live, steady);
        if (!w.save(dir)) {
            std::fprintf(stderr, "gen: cannot write %s\n", dir);
            return 1;
        }
        std::printf("%-15s %8llu calls  %s\n", name.c_str(), static_cast<unsigned long long>(w.ops()), dir);
        return 0;
    }
    mkdir(dir, 0755);
    for (const auto& wl : WORKLOADS) {
        Writer w(wl.name);
        wl.make(w, scale);
        std::string path = std::string(dir) + "/" + wl.name + ".hmt";
        if (!w.save(path)) {
            std::fprintf(stderr, "gen: cannot write %s\n", path.c_str());
            return 1;
        }
        std::printf("%-15s %8llu calls  %s\n", wl.name, static_cast<unsigned long long>(w.ops()), path.c_str());
    }
    return 0;
}
