// tests/stress.cpp: many threads, random operations, every block checked.
//
// Run with a preloadable stage in LD_PRELOAD (tests/run does): the standard
// names malloc, free, calloc, realloc and posix_memalign are the stage's.
// Usage: stress [THREADS] [OPERATIONS_PER_THREAD] [SEED]
//
// Every thread keeps a shadow of its live blocks (pointer, size, fill byte)
// and fills each block with a pattern made from its fill byte. A block's
// whole contents are checked whenever it is freed, resized or handed over,
// and every thread re-checks all its blocks every CHECK_EVERY operations. A
// quarter of the frees happen in another thread: blocks travel through a
// shared exchange. Two live blocks that overlap would show up as a pattern
// overwritten by the other block's owner. Prints one TAP line.
#include <malloc.h>
#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr int SLOTS = 64;           // live blocks per thread at most
constexpr int EXCHANGE = 256;       // blocks in transit between threads
constexpr long CHECK_EVERY = 4096;  // full re-check of a thread's blocks

struct Block {
    unsigned char* ptr = nullptr;
    std::size_t size = 0;
    unsigned char fill = 0;
};

unsigned char pattern(unsigned char fill, std::size_t k) {
    return static_cast<unsigned char>(fill + k * 131);
}

void paint(const Block& b) {
    for (std::size_t k = 0; k < b.size; ++k) b.ptr[k] = pattern(b.fill, k);
}

std::atomic<long> failures{0};

bool intact(const Block& b, const char* when) {
    for (std::size_t k = 0; k < b.size; ++k) {
        if (b.ptr[k] != pattern(b.fill, k)) {
            if (failures.fetch_add(1) < 5)
                std::printf("# block %p (%zu bytes) corrupted at byte %zu, found while %s\n",
                            static_cast<void*>(b.ptr), b.size, k, when);
            return false;
        }
    }
    return true;
}

void fail(const char* what, std::size_t size) {
    if (failures.fetch_add(1) < 5) std::printf("# %s (size %zu)\n", what, size);
}

// The shared exchange: a slot is taken and put back under its own lock.
struct Exchange {
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    Block block;
};
Exchange exchange[EXCHANGE];

struct Rng {
    std::uint64_t s;
    std::uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

// Mostly small blocks, some medium, a few large: what programs ask for.
std::size_t random_size(Rng& rng) {
    std::size_t r = rng.below(100);
    if (r < 80) return rng.below(256);
    if (r < 98) return 256 + rng.below(4096);
    return 4096 + rng.below(64 * 1024);
}

struct Worker {
    long operations;
    std::uint64_t seed;
    pthread_t thread;
};

void* work(void* arg) {
    auto* w = static_cast<Worker*>(arg);
    Rng rng{w->seed};
    Block mine[SLOTS];
    for (long op = 0; op < w->operations && failures.load() == 0; ++op) {
        Block& b = mine[rng.below(SLOTS)];
        unsigned choice = static_cast<unsigned>(rng.below(100));
        if (b.ptr != nullptr && choice < 30) {  // free here
            if (intact(b, "freeing")) free(b.ptr);
            b = Block{};
        } else if (b.ptr != nullptr && choice < 45) {  // hand over: another thread frees it
            if (!intact(b, "handing over")) continue;
            Exchange& e = exchange[rng.below(EXCHANGE)];
            pthread_mutex_lock(&e.lock);
            Block theirs = e.block;
            e.block = b;
            pthread_mutex_unlock(&e.lock);
            b = Block{};
            if (theirs.ptr != nullptr && intact(theirs, "freeing a block from another thread"))
                free(theirs.ptr);
        } else if (b.ptr != nullptr && choice < 65) {  // realloc
            if (!intact(b, "resizing")) continue;
            std::size_t size = random_size(rng);
            auto* p = static_cast<unsigned char*>(realloc(b.ptr, size));
            if (p == nullptr && size != 0) {
                fail("realloc returned NULL", size);
                continue;
            }
            Block moved{p, size, b.fill};
            std::size_t kept = size < b.size ? size : b.size;
            for (std::size_t k = 0; k < kept; ++k)
                if (p[k] != pattern(b.fill, k)) {
                    fail("realloc lost the contents", size);
                    break;
                }
            b = size == 0 ? Block{} : moved;
            if (b.ptr != nullptr) paint(b);
        } else if (b.ptr == nullptr) {  // allocate, one of three ways
            std::size_t size = random_size(rng);
            unsigned char* p = nullptr;
            unsigned how = static_cast<unsigned>(rng.below(10));
            if (how < 7) {
                p = static_cast<unsigned char*>(malloc(size));
            } else if (how < 9) {
                p = static_cast<unsigned char*>(calloc(1, size));
                for (std::size_t k = 0; p != nullptr && k < size; ++k)
                    if (p[k] != 0) {
                        fail("calloc block not zeroed", size);
                        break;
                    }
            } else {
                std::size_t alignment = std::size_t{16} << rng.below(9);  // 16 .. 4096
                void* q = nullptr;
                if (posix_memalign(&q, alignment, size) == 0) p = static_cast<unsigned char*>(q);
                if (reinterpret_cast<std::uintptr_t>(p) % alignment != 0) fail("misaligned posix_memalign", size);
            }
            if (p == nullptr) {
                fail("allocation returned NULL", size);
                continue;
            }
            if (reinterpret_cast<std::uintptr_t>(p) % alignof(std::max_align_t) != 0) fail("misaligned block", size);
            b = Block{p, size, static_cast<unsigned char>(rng.next())};
            paint(b);
        }
        if (op % CHECK_EVERY == 0)
            for (const Block& m : mine)
                if (m.ptr != nullptr) intact(m, "re-checking all blocks");
    }
    for (Block& m : mine)
        if (m.ptr != nullptr && intact(m, "cleaning up")) free(m.ptr);
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    int threads = argc > 1 ? std::atoi(argv[1]) : 4;
    long operations = argc > 2 ? std::atol(argv[2]) : 1000000;
    std::uint64_t seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1;
    if (threads < 1 || threads > 64 || operations < 1) {
        std::fprintf(stderr, "usage: stress [THREADS 1-64] [OPERATIONS_PER_THREAD] [SEED]\n");
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IONBF, 0);
    std::printf("1..1\n");
    static Worker workers[64];
    for (int i = 0; i < threads; ++i) {
        workers[i] = Worker{operations, seed * 1000003 + static_cast<std::uint64_t>(i) + 1, {}};
        pthread_create(&workers[i].thread, nullptr, work, &workers[i]);
    }
    for (int i = 0; i < threads; ++i) pthread_join(workers[i].thread, nullptr);
    for (Exchange& e : exchange)
        if (e.block.ptr != nullptr && intact(e.block, "emptying the exchange")) free(e.block.ptr);
    bool ok = failures.load() == 0;
    std::printf("%s 1 - stress.threads_%dx%ld (seed %llu)\n", ok ? "ok" : "not ok", threads, operations,
                static_cast<unsigned long long>(seed));
    return ok ? 0 : 1;
}
