// bench/threads.cpp: two threads, a producer and a consumer, through the
// standard names (build/bench/threads).
//
// Not part of any lesson. The producer allocates messages of random sizes,
// fills each with a pattern of its own and hands them over, 32 at a time,
// through a ring of 8192 slots; the consumer checks the pattern and frees
// the message. Every
// block is allocated by one thread and freed by the other: what a thread
// cache must send home, and what a single heap lock makes both threads
// queue for. The consumer also keeps a few small blocks of its own, so both
// threads allocate at once.
//
// Only allocators that are a process's malloc can run this: glibc, the
// peers (preloaded) and stage 07 (`--system build/07/libhmalloc.so`).
//
// Usage: threads --system NAME|LIB [--messages N] [--cap-seconds S]
//                [--count-os-calls] [--kv]
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "measure.hpp"
#include "system_alloc.hpp"

namespace {

constexpr std::size_t RING = 8192;
constexpr std::uint64_t BATCH = 32;  // messages the producer writes before it publishes them
constexpr std::size_t OWN = 64;  // the consumer's own small blocks

struct Message {
    std::uint8_t* ptr;
    std::uint64_t size;
    std::uint64_t seed;
};

// A single-producer, single-consumer ring.
struct Ring {
    Message slots[RING] = {};
    alignas(64) std::atomic<std::uint64_t> head{0};  // slots below this are written (producer)
    alignas(64) std::atomic<std::uint64_t> tail{0};  // slots below this are read (consumer)
    alignas(64) std::atomic<bool> done{false};
};

constinit Ring ring;
constinit std::uint64_t messages = 1000000;
constinit double deadline = 0;
constinit std::uint64_t produced = 0, consumed = 0, consumer_ops = 0;
constinit std::atomic<bool> corrupted{false};

std::uint64_t splitmix(std::uint64_t x) {
    std::uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void fill(std::uint8_t* p, std::uint64_t size, std::uint64_t seed) {
    std::uint64_t o = 0;
    for (; o + 8 <= size; o += 8) {
        std::uint64_t w = seed + o;
        std::memcpy(p + o, &w, 8);
    }
    for (; o < size; ++o) p[o] = static_cast<std::uint8_t>(seed >> (o % 8 * 8));
}

bool intact(const std::uint8_t* p, std::uint64_t size, std::uint64_t seed) {
    std::uint64_t o = 0;
    for (; o + 8 <= size; o += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + o, 8);
        if (w != seed + o) return false;
    }
    for (; o < size; ++o)
        if (p[o] != static_cast<std::uint8_t>(seed >> (o % 8 * 8))) return false;
    return true;
}

// Mostly small messages, some up to 4 KiB.
std::uint64_t message_size(std::uint64_t r) {
    return (r & 7) == 0 ? 1024 + (r >> 8) % 3072 : 16 + (r >> 8) % 496;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Waits a little (the other thread is usually about to move), then yields.
void wait_a_little(int* spins) {
    if (++*spins < 64) {
        cpu_relax();
    } else {
        sched_yield();
    }
}

void* producer(void*) {
    std::uint64_t i = 0;
    std::uint64_t head = 0;
    for (; i < messages; ++i) {
        if ((i & 1023) == 0 && deadline != 0 && hm::bench::now_seconds() > deadline) break;
        std::uint64_t r = splitmix(i);
        Message m{nullptr, message_size(r), r | 1};
        m.ptr = static_cast<std::uint8_t*>(std::malloc(m.size));
        if (m.ptr == nullptr) {
            std::fprintf(stderr, "threads: malloc returned NULL for %" PRIu64 " bytes\n", m.size);
            std::exit(4);
        }
        fill(m.ptr, m.size, m.seed);
        int spins = 0;
        while (head - ring.tail.load(std::memory_order_acquire) >= RING) wait_a_little(&spins);
        ring.slots[head % RING] = m;
        ++head;
        if (head % BATCH == 0) ring.head.store(head, std::memory_order_release);
    }
    ring.head.store(head, std::memory_order_release);
    produced = i;
    ring.done.store(true, std::memory_order_release);
    return nullptr;
}

void* consumer(void*) {
    void* own[OWN] = {};
    std::uint64_t n = 0, ops = 0, tail = 0;
    int spins = 0;
    for (;;) {
        std::uint64_t head = ring.head.load(std::memory_order_acquire);
        if (tail == head) {
            if (ring.done.load(std::memory_order_acquire) && tail == ring.head.load(std::memory_order_acquire)) break;
            wait_a_little(&spins);
            continue;
        }
        spins = 0;
        for (; tail < head; ++tail) {
            Message m = ring.slots[tail % RING];
            if (!intact(m.ptr, m.size, m.seed)) corrupted.store(true);
            std::free(m.ptr);
            ++n;
            ops += 1;
            if ((n & 3) == 0) {
                std::size_t k = (n >> 2) % OWN;
                std::free(own[k]);
                own[k] = std::malloc(16 + n % 112);
                ops += 2;
            }
        }
        ring.tail.store(tail, std::memory_order_release);
    }
    for (void* p : own) std::free(p);
    consumed = n;
    consumer_ops = ops;
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    const char* system = nullptr;
    double cap_seconds = 0;
    bool kv = false, count_os_calls = false;
    for (int i = 1; i < argc; ++i) {
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) std::exit(64);
            return argv[++i];
        };
        if (std::strcmp(argv[i], "--system") == 0) {
            system = value();
        } else if (std::strcmp(argv[i], "--messages") == 0) {
            messages = std::strtoull(value(), nullptr, 10);
        } else if (std::strcmp(argv[i], "--cap-seconds") == 0) {
            cap_seconds = std::strtod(value(), nullptr);
        } else if (std::strcmp(argv[i], "--kv") == 0) {
            kv = true;
        } else if (std::strcmp(argv[i], "--count-os-calls") == 0) {
            count_os_calls = true;
        } else {
            std::fprintf(stderr,
                         "usage: threads --system NAME|LIB [--messages N] [--cap-seconds S] [--count-os-calls] [--kv]\n");
            return 64;
        }
    }
    if (system == nullptr) {
        std::fprintf(stderr, "threads: say --system glibc, jemalloc, mimalloc, tcmalloc or a library path\n");
        return 64;
    }
    hm::bench::use_system_allocator(system, "/proc/self/exe", argv);
    if (count_os_calls) hm::bench::OsCallCounter::fork_and_trace();
    const char* name = std::strchr(system, '/') != nullptr ? hm::bench::base_name(system) : system;

    bool peak_reset = hm::bench::reset_peak();
    hm::bench::Resident base = hm::bench::read_resident();
    hm::bench::OsCallCounter::begin();
    double start = hm::bench::now_seconds();
    if (cap_seconds > 0) deadline = start + cap_seconds;
    pthread_t p, c;
    pthread_create(&c, nullptr, consumer, nullptr);
    pthread_create(&p, nullptr, producer, nullptr);
    pthread_join(p, nullptr);
    pthread_join(c, nullptr);
    double seconds = hm::bench::now_seconds() - start;
    hm::bench::OsCallCounter::end();
    hm::bench::Resident end = hm::bench::read_resident();

    if (corrupted.load()) {
        std::fprintf(stderr, "threads: CORRUPTED: a message lost its contents between the producer and the consumer (%s)\n",
                     name);
        return 3;
    }
    if (consumed != produced) {
        std::fprintf(stderr, "threads: %" PRIu64 " messages produced but %" PRIu64 " consumed\n", produced, consumed);
        return 3;
    }
    std::uint64_t ops = produced + consumer_ops;  // the producer's mallocs, the consumer's frees and own blocks
    std::size_t rss_peak = end.hwm > base.rss ? end.hwm - base.rss : 0;
    std::size_t rss_end = end.rss > base.rss ? end.rss - base.rss : 0;
    const char* status = produced < messages ? "over_cap" : "ok";
    double rate = seconds > 0 ? static_cast<double>(ops) / seconds : 0;
    if (kv) {
        std::printf("alloc=%s\nstatus=%s\nops=%" PRIu64 "\nops_done=%" PRIu64 "\nseconds=%.6f\nops_per_sec=%.1f\n", name,
                    status, 2 * messages + messages / 2, ops, seconds, rate);
        std::printf("footprint_peak=%zu\nfootprint_source=rss\nrss_peak=%zu\nrss_end=%zu\nrss_peak_reset=%d\n", rss_peak,
                    rss_peak, rss_end, peak_reset ? 1 : 0);
    } else {
        std::printf("2 threads, producer/consumer on %s\n", name);
        if (produced < messages)
            std::printf("  OVER CAP        stopped after %" PRIu64 " of %" PRIu64 " messages\n", produced, messages);
        std::printf("  operations      %" PRIu64 " in %.3f s: %.0f per second, every message checked\n", ops, seconds,
                    rate);
        std::printf("  resident        peak %zu bytes over the start, %zu at the end\n", rss_peak, rss_end);
    }
    std::fflush(stdout);
    return 0;
}
