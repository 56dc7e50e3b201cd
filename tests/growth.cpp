// tests/growth.cpp: how the heap grows (stage 08 on: in large steps) and,
// from stage 09, large blocks in mappings of their own.
#include <cstring>

#include "harness.hpp"

using namespace suite;

// ---- growth (stage 08) -------------------------------------------------------------

TEST(growth, few_calls_for_many_small_blocks) {
    // One system call per block is what made Part I slow to grow: the
    // break should move in steps that serve many requests.
    static Block blocks[1000];
    Mark m = mark();
    for (auto& b : blocks) b = alloc_filled(32);
    Since s = since(m);
    CHECK_LE(s.grows, 4ul) << "1000 requests of 32 bytes moved the break " << s.grows
                           << " times: the heap grows one block at a time";
    check_intact(blocks, 1000);
    check_walk(blocks, 1000, true);
}

TEST(growth, small_step_when_big_step_refused) {
    // The OS may refuse a large step and still grant a small one (a data
    // limit, a mapping just above the break): a request that fits in what
    // the OS still gives must not fail because the heap asked for more.
    char* limit = current_break() + 8192;
    sbrk_double_limit(limit);
    Block a = alloc_filled(1000);
    CHECK_LE(current_break(), limit);
    Mark m = mark();
    errno = 0;
    void* p = hmalloc(20000);
    CHECK(p == nullptr) << "hmalloc(20000) returned " << p << " beyond the limit";
    CHECK_EQ(errno, ENOMEM);
    CHECK_EQ(current_break(), m.brk) << "a refused request moved the break";
    check_intact(a);
    check_walk({a}, true);
    sbrk_double_limit(nullptr);
    Block b = alloc_filled(20000);
    check_intact({a, b});
    check_walk({a, b}, true);
}

// ---- mappings of their own (stage 09) ----------------------------------------------
//
// A large request gets a mapping of its own: the break does not move, free
// gives the pages straight back, realloc resizes with mremap. The tests see
// this through the mmap double (common/mmap_double.h), which lists the
// mappings the stage made.

namespace {

constexpr std::size_t LARGE = std::size_t{1} << 20;  // far above any threshold (stage 09: 128 KiB)

// hmalloc(n) must return a block in a mapping of its own.
Block alloc_mapped(std::size_t n, Where at = Where::current()) {
    Block b = alloc_filled(n, at);
#undef HM_FILE
#undef HM_LINE
#define HM_FILE at.file_name()
#define HM_LINE at.line()
    CHECK(mmap_double_is_mapped(b.p, n)) << "the large block " << b.p << " (" << n
                                         << " bytes) is not in a mapping of its own";
#undef HM_FILE
#undef HM_LINE
#define HM_FILE __FILE__
#define HM_LINE __LINE__
    return b;
}

std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

}  // namespace

TEST(mapped, large_request_does_not_move_break) {
    Block keep = alloc_filled(64);
    Mark m = mark();
    Block first = alloc_mapped(LARGE);  // the stage may map a table of its own too
    mmap_double_stats before = mmap_double_get_stats();
    Block big = alloc_mapped(LARGE);
    CHECK_EQ(current_break(), m.brk) << "the break moved for a large request";
    CHECK_EQ(since(m).grows, 0ul);
    CHECK_EQ(mmap_double_get_stats().maps - before.maps, 1ul) << "one mapping per large block";
    check_intact({keep, first, big});
    check_disjoint({keep, first, big});
    check_walk({keep, first, big}, true);
}

TEST(mapped, unmapped_on_free) {
    Block keep = alloc_filled(64);
    static Block big[4];
    for (std::size_t i = 0; i < 4; ++i) big[i] = alloc_mapped(LARGE + i * 100000);
    Mark m = mark();
    mmap_double_stats before = mmap_double_get_stats();
    for (std::size_t i : {2, 0, 3, 1}) {
        hfree(big[i].p);
        CHECK(!mmap_double_is_mapped(big[i].p, 1)) << "the large block " << big[i].p
                                                   << " is still mapped after hfree";
    }
    mmap_double_stats after = mmap_double_get_stats();
    CHECK_EQ(after.unmaps - before.unmaps, 4ul);
    CHECK_LE(after.live_bytes + 4 * LARGE, before.live_bytes) << "the blocks' pages were not all given back";
    CHECK_EQ(current_break(), m.brk) << "freeing large blocks moved the break";
    check_intact(keep);
    check_walk({keep}, true);
}

TEST(mapped, grown_and_shrunk_by_mremap) {
    NEED(hrealloc);
    Block keep = alloc_filled(64);
    Block big = alloc_mapped(256 << 10);
    Mark m = mark();
    mmap_double_stats before = mmap_double_get_stats();
    void* q = hrealloc(big.p, 8 * LARGE);
    CHECK(q != nullptr) << "hrealloc to 8 MiB returned NULL (errno " << errno << ")";
    Block grown{static_cast<unsigned char*>(q), big.n, big.tag};
    check_intact(grown, "the contents after growing");
    mmap_double_stats after = mmap_double_get_stats();
    CHECK_GE(after.remaps - before.remaps, 1ul) << "the large block was not grown with mremap";
    CHECK_EQ(after.maps - before.maps, 0ul) << "growing a large block mapped new memory and copied";
    CHECK(mmap_double_is_mapped(q, 8 * LARGE)) << "the grown block is not in a mapping of its own";
    CHECK_EQ(current_break(), m.brk) << "growing a large block moved the break";
    grown.n = 8 * LARGE;
    fill(grown);
    before = after;
    void* r = hrealloc(grown.p, 300 << 10);
    CHECK(r != nullptr);
    Block shrunk{static_cast<unsigned char*>(r), 300 << 10, grown.tag};
    check_intact(shrunk, "the contents after shrinking");
    CHECK_GE(mmap_double_get_stats().remaps - before.remaps, 1ul) << "the large block was not shrunk with mremap";
    CHECK_LE(mmap_double_get_stats().live_bytes + 4 * LARGE, before.live_bytes)
        << "shrinking a large block gave no pages back";
    check_intact(keep);
    check_walk({keep, shrunk}, true);
}

TEST(mapped, refused_cleanly) {
    // The OS refuses mmap and mremap: NULL with ENOMEM, and nothing changed,
    // on the heap or in the mapped blocks.
    Block keep = alloc_filled(64);
    Block big = alloc_mapped(512 << 10);
    Mark m = mark();
    mmap_double_refuse_after(0);
    errno = 0;
    void* p = hmalloc(LARGE);
    CHECK(p == nullptr) << "hmalloc(1 MiB) returned " << p << " while mmap refuses";
    CHECK_EQ(errno, ENOMEM);
    if (api.hcalloc != nullptr) {
        errno = 0;
        p = api.hcalloc(1, LARGE);
        CHECK(p == nullptr) << "hcalloc(1, 1 MiB) returned " << p << " while mmap refuses";
        CHECK_EQ(errno, ENOMEM);
    }
    if (api.hrealloc != nullptr) {
        errno = 0;
        p = api.hrealloc(big.p, 8 * LARGE);
        CHECK(p == nullptr) << "hrealloc(large block, 8 MiB) returned " << p << " while mmap and mremap refuse";
        CHECK_EQ(errno, ENOMEM);
        CHECK(mmap_double_is_mapped(big.p, big.n)) << "the large block was unmapped by a refused hrealloc";
    }
    CHECK_EQ(current_break(), m.brk) << "a refused large request moved the break";
    check_intact({keep, big});
    check_walk({keep, big}, true);
    mmap_double_refuse_after(-1);
    Block again = alloc_mapped(LARGE);
    check_intact({keep, big, again});
    check_walk({keep, big, again}, true);
}

TEST(mapped, calloc_of_fresh_mapping_zeroed_untouched) {
    // A fresh mapping is zeroed by the kernel: hcalloc need not clear it,
    // and clearing it would make every page resident for nothing.
    NEED(hcalloc);
    constexpr std::size_t SIZE = 16 * LARGE;
    Block dirty = alloc_mapped(SIZE);  // its pages, once given back, may come back
    hfree(dirty.p);
    void* p = hcalloc(1, SIZE);
    CHECK(p != nullptr);
    CHECK(mmap_double_is_mapped(p, SIZE)) << "the large block " << p << " (" << SIZE
                                          << " bytes) is not in a mapping of its own";
    std::size_t page = page_size();
    auto first = reinterpret_cast<std::uintptr_t>(p) & ~(page - 1);
    std::size_t pages = (reinterpret_cast<std::uintptr_t>(p) + SIZE - first + page - 1) / page;
    static unsigned char resident[(16 << 20) / 4096 + 2];
    CHECK_LE(pages, sizeof resident);
    CHECK(::mincore(reinterpret_cast<void*>(first), pages * page, resident) == 0) << "mincore failed";
    std::size_t touched = 0;
    for (std::size_t i = 0; i < pages; ++i) touched += resident[i] & 1;
    CHECK_LE(touched, pages / 8) << touched << " of " << pages
                                 << " pages of a fresh mapping are resident: hcalloc cleared memory the kernel had zeroed";
    check_zero(p, SIZE, "hcalloc's large block");
}

namespace {
void call_hrealloc_100(void* p) { (void)api.hrealloc(p, 100); }
}  // namespace

TEST(mapped, bad_and_double_free_refused) {
    // A mapped block has no header: a pointer is one only if the stage's
    // table lists it. Interior pointers and a second hfree are refused as
    // for blocks of the heap, and nothing is unmapped by mistake. A stage
    // that aborts is probed in a child each time (the call is not made
    // here), so every case is checked on every stage.
    Block keep = alloc_filled(64);
    Block big = alloc_mapped(LARGE);
    Block other = alloc_mapped(LARGE);
    Mark m = mark();
    for (std::size_t offset : {16, 4096, 65536}) {
        refused_free(big.p + offset, {"invalid"});
        CHECK(mmap_double_is_mapped(big.p, big.n)) << "a refused hfree unmapped the block it pointed into";
    }
    if (api.hrealloc != nullptr) refused_call("hrealloc", call_hrealloc_100, big.p + 4096, {"invalid"});
    check_intact({keep, big, other});
    hfree(big.p);
    refused_free(big.p, {"double free", "invalid"});
    CHECK_EQ(current_break(), m.brk);
    check_intact({keep, other});
    check_walk({keep, other}, true);
}

TEST(mapped, aligned_and_usable_size) {
    // The memalign family and malloc_usable_size know mapped blocks too.
    NEED(posix_memalign);
    NEED(malloc_usable_size);
    NEED(memalign);
    NEED(valloc);
    Block keep = alloc_filled(64);
    void* a = nullptr;
    CHECK_EQ(api.posix_memalign(&a, 65536, LARGE), 0);
    CHECK(aligned(a, 65536)) << "posix_memalign(64 KiB, 1 MiB) returned " << a;
    CHECK(mmap_double_is_mapped(a, LARGE)) << "the large block " << a << " (" << LARGE
                                           << " bytes) is not in a mapping of its own";
    void* b = api.memalign(4096, 300 << 10);
    CHECK(b != nullptr && aligned(b, 4096)) << "memalign(4096, 300 KiB) returned " << b;
    void* c = api.valloc(200 << 10);
    CHECK(c != nullptr && aligned(c, page_size())) << "valloc(200 KiB) returned " << c;
    Block blocks[] = {{static_cast<unsigned char*>(a), LARGE, 0},
                      {static_cast<unsigned char*>(b), 300 << 10, 0},
                      {static_cast<unsigned char*>(c), 200 << 10, 0}};
    for (Block& x : blocks) {
        CHECK(mmap_double_is_mapped(x.p, x.n)) << "the aligned large block " << x.p << " is not mapped";
        std::size_t usable = api.malloc_usable_size(x.p);
        CHECK_GE(usable, x.n) << "malloc_usable_size of a mapped block";
        CHECK(mmap_double_is_mapped(x.p, usable)) << "malloc_usable_size " << usable << " runs past the mapping";
        x.n = usable;
        fill(x);
    }
    check_disjoint({keep, blocks[0], blocks[1], blocks[2]});
    check_walk({keep, blocks[0], blocks[1], blocks[2]}, true);
    for (Block& x : blocks) {
        hfree(x.p);
        CHECK(!mmap_double_is_mapped(x.p, 1)) << "the aligned large block " << x.p << " is still mapped after free";
    }
    // One mapping may start at a multiple of 64 KiB by chance (and the next
    // ones too, when their lengths are multiples of it). Eight whose lengths
    // differ by a page each cannot all start there: each must make room to
    // slide its payload up to the alignment.
    static void* many[8];
    for (std::size_t i = 0; i < 8; ++i) {
        std::size_t size = LARGE + (i + 1) * 4096;
        CHECK_EQ(api.posix_memalign(&many[i], 65536, size), 0);
        CHECK(aligned(many[i], 65536)) << "posix_memalign(64 KiB, " << size << ") returned " << many[i];
        CHECK(mmap_double_is_mapped(many[i], size))
            << "the aligned large block " << many[i] << " (" << size << " bytes) runs past its mapping";
    }
    for (void* p : many) hfree(p);
    check_intact(keep);
    check_walk({keep}, true);
}

// ---- per-block overhead (stage 10) ---------------------------------------------------

TEST(overhead, small_blocks) {
    // What a small block costs beyond its payload. Blocks asked for one after
    // the other lie side by side, so the distance from one to the next is the
    // block's whole cost: 24 bytes of payload plus the header, rounded up to
    // the alignment. The median distance ignores the few that landed in a hole
    // elsewhere in the heap. A one-word header makes it 32; a 32-byte header
    // and a 32-byte payload make it 64.
    constexpr std::size_t COUNT = 10000, SIZE = 24, MAX_OVERHEAD = 16;
    static Block blocks[COUNT];
    for (std::size_t i = 0; i < COUNT; ++i) blocks[i] = alloc_filled(SIZE);
    std::size_t stride = median_distance(blocks, COUNT);
    CHECK_LE(stride, SIZE + MAX_OVERHEAD)
        << COUNT << " blocks of " << SIZE << " bytes lie " << stride << " bytes apart (the median): "
        << stride - SIZE << " bytes of overhead per block, more than " << MAX_OVERHEAD;
    check_intact(blocks, COUNT);
    check_walk(blocks, COUNT, true);
    for (auto& b : blocks) hfree(b.p);
}
