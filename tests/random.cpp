// tests/random.cpp: long seeded runs against a shadow model.
//
// The shadow knows every live block (pointer, size, fill pattern) and every
// piece of memory "someone else" took from sbrk. After every operation:
// every live block and every foreign piece still holds its pattern, no two
// live blocks overlap, and hwalk agrees (address order, no overlap, each
// live block a used block with its pointer as payload and at least its
// size, no more used blocks than live ones, no block over foreign memory).
// A failure prints the seed and operation number ("while: ...").
#include <cstdlib>

#include "harness.hpp"

using namespace suite;

namespace {

constexpr std::size_t MAX_LIVE = 160;
constexpr std::size_t MAX_FOREIGN = 48;
// Seeds 1..3 by default; HMALLOC_TEST_SEEDS=N runs seeds 1..N (a longer hunt),
// HMALLOC_TEST_SEED=S only seed S (to replay a failure).
constexpr int OPERATIONS = 2000;

struct SeedRange {
    std::uint64_t first, last;
};
SeedRange seeds() {
    if (const char* one = std::getenv("HMALLOC_TEST_SEED")) {
        std::uint64_t s = std::strtoull(one, nullptr, 10);
        return {s, s};
    }
    const char* n = std::getenv("HMALLOC_TEST_SEEDS");
    std::uint64_t count = n ? std::strtoull(n, nullptr, 10) : 3;
    return {1, count == 0 ? 1 : count};
}

struct Options {
    bool calloc_realloc = false;  // hcalloc, hrealloc, hreallocarray too
    bool foreign = false;         // someone else moves the break now and then
    bool refusals = false;        // sbrk refuses growth for a few operations now and then
    bool realloc_zero = true;     // hrealloc(p, 0) now and then (it frees: hmalloc's rule)
};

struct Shadow {
    Block live[MAX_LIVE];
    std::size_t n = 0;
    Block foreign[MAX_FOREIGN];
    std::size_t nf = 0;
    int refusing = 0;  // operations left with sbrk refusing growth
};

std::size_t random_size(Random& r) {
    std::size_t k = r.below(100);
    if (k < 60) return r.below(129);
    if (k < 90) return r.below(2049);
    if (k < 99) return r.below(16385);
    return r.below(200001);
}

void verify(const Shadow& s) {
    check_intact(s.live, s.n, "live block");
    check_intact(s.foreign, s.nf, "foreign memory");
    check_disjoint(s.live, s.n);
    check_walk(WalkCheck{s.live, s.n, s.foreign, s.nf, true});
}

// NULL is right only while sbrk refuses, and then with ENOMEM.
bool accept_null(const Shadow& s, void* p, int err, const char* call, std::size_t size) {
    if (p != nullptr) return false;
    CHECK(s.refusing > 0) << call << "(" << size << ") returned NULL (errno " << err << ") with sbrk not refusing";
    CHECK_EQ(err, ENOMEM) << "errno after a failed " << call;
    return true;
}

void remove_live(Shadow& s, std::size_t i) { s.live[i] = s.live[--s.n]; }

void run(std::uint64_t seed, const Options& o) {
    static Shadow s;
    s = Shadow{};
    Random r(seed);
    for (int op = 0; op < OPERATIONS; ++op) {
        context().clear();
        context() << "seed " << seed << ", operation " << op << ": ";
        if (o.refusals) {
            if (s.refusing > 0 && --s.refusing == 0) refuse_os_after(-1);
            if (s.refusing == 0 && r.chance(3)) {
                s.refusing = 1 + static_cast<int>(r.below(8));
                refuse_os_after(static_cast<long>(r.below(2)));
            }
        }
        std::size_t kind = r.below(100);
        if (o.foreign && kind < 4) {
            Block& top = s.foreign[s.nf - (s.nf > 0)];
            bool at_break = s.nf > 0 && reinterpret_cast<char*>(top.p + top.n) == current_break();
            if (at_break && r.chance(50)) {
                context() << "someone else gives back " << top.n << " bytes";
                CHECK(sbrk_double_foreign(-static_cast<intptr_t>(top.n)) != reinterpret_cast<void*>(-1));
                --s.nf;
            } else if (s.nf < MAX_FOREIGN) {
                std::size_t n = 1 + r.below(6000);
                context() << "someone else takes " << n << " bytes";
                s.foreign[s.nf++] = foreign_block(n);
            }
        } else if (s.n > 0 && (s.n == MAX_LIVE || kind < 45)) {
            std::size_t i = r.below(s.n);
            if (o.calloc_realloc && r.chance(55)) {
                // hrealloc / hreallocarray on a live block.
                Block old = s.live[i];
                std::size_t size = r.chance(5) ? 0 : random_size(r);
                if (size == 0 && !o.realloc_zero) size = 1;
                bool array = r.chance(20) && size > 0;
                context() << (array ? "hreallocarray(" : "hrealloc(") << old.p << " [" << old.n << "], " << size << ")";
                errno = 0;
                void* q = array ? hreallocarray(old.p, size, 1) : hrealloc(old.p, size);
                int err = errno;
                if (size == 0) {
                    CHECK(q == nullptr) << "hrealloc(p, 0) returned " << q;
                    remove_live(s, i);
                } else if (!accept_null(s, q, err, "hrealloc", size)) {
                    Block moved{static_cast<unsigned char*>(q), old.n, old.tag};
                    check_prefix_intact(moved, old.n < size ? old.n : size, "the contents after hrealloc");
                    s.live[i] = Block{moved.p, size, 0};
                    fill(s.live[i]);
                }
            } else {
                context() << "hfree(" << s.live[i].p << " [" << s.live[i].n << "])";
                hfree(s.live[i].p);
                remove_live(s, i);
            }
        } else {
            std::size_t size = random_size(r);
            errno = 0;
            void* p = nullptr;
            const char* call = "hmalloc";
            if (o.calloc_realloc && r.chance(30)) {
                std::size_t count = 1 + r.below(8);
                size = size / count;
                std::size_t mode = r.below(3);
                call = mode == 0 ? "hcalloc" : mode == 1 ? "hrealloc(NULL)" : "hreallocarray(NULL)";
                context() << call << " " << count << " x " << size;
                p = mode == 0 ? hcalloc(count, size)
                    : mode == 1 ? hrealloc(nullptr, count * size)
                                : hreallocarray(nullptr, count, size);
                if (p != nullptr && mode == 0) check_zero(p, count * size, "hcalloc's block");
                size *= count;
            } else {
                context() << "hmalloc(" << size << ")";
                p = hmalloc(size);
            }
            int err = errno;
            if (!accept_null(s, p, err, call, size)) {
                s.live[s.n] = Block{static_cast<unsigned char*>(p), size, 0};
                fill(s.live[s.n++]);
            }
        }
        verify(s);
    }
    context().clear();
    context() << "seed " << seed << ", freeing everything at the end";
    refuse_os_after(-1);
    while (s.n > 0) {
        hfree(s.live[s.n - 1].p);
        --s.n;
        verify(s);
    }
    context().clear();
}

}  // namespace

TEST(random, malloc_free_shadow) {
    for (auto r = seeds(); r.first <= r.last; ++r.first) run(r.first, Options{});
}

TEST(random, foreign_break_moves) {
    for (auto r = seeds(); r.first <= r.last; ++r.first) run(r.first, Options{false, true, false});
}

TEST(random, sbrk_refusals) {
    for (auto r = seeds(); r.first <= r.last; ++r.first) run(r.first, Options{false, false, true});
}

// hcalloc, hrealloc and hreallocarray with the rules every allocator keeps
// (no hrealloc(p, 0), whose result allocators legitimately differ on; no
// foreign break moves or refusals, which an allocator whose calls to the OS
// cannot be seen never meets).
TEST(random, calloc_realloc_shadow) {
    NEED(hcalloc);
    NEED(hrealloc);
    NEED(hreallocarray);
    for (auto r = seeds(); r.first <= r.last; ++r.first) run(r.first, Options{true, false, false, false});
}

TEST(random, all_ops_shadow) {
    NEED(hcalloc);
    NEED(hrealloc);
    NEED(hreallocarray);
    for (auto r = seeds(); r.first <= r.last; ++r.first) run(r.first, Options{true, true, true});
}
