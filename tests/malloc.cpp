// tests/malloc.cpp: hmalloc's contract, alignment, and reuse of freed blocks.
#include <climits>
#include <cstring>

#include "harness.hpp"

using namespace suite;

namespace {

// Every size the boundary tests try: around the alignment, the header, a
// page, and one large block.
constexpr std::size_t BOUNDARY_SIZES[] = {0, 1, 15, 16, 17, 31, 32, 33, 4095, 4096, 4097, 1 << 20};
constexpr std::size_t NBOUNDARY = sizeof BOUNDARY_SIZES / sizeof BOUNDARY_SIZES[0];

}  // namespace

// ---- malloc --------------------------------------------------------------------------

TEST(malloc, returns_writable_memory) {
    auto* p = static_cast<unsigned char*>(hmalloc(100));
    CHECK(p != nullptr) << "hmalloc(100) returned NULL";
    for (int i = 0; i < 100; ++i) p[i] = static_cast<unsigned char>(i);
    for (int i = 0; i < 100; ++i) CHECK_EQ(p[i], static_cast<unsigned char>(i)) << "byte " << i;
    // From the break (every stage before 14), or from a mapping the stage made
    // (stage 14's pages of small blocks).
    CHECK(current_break() > start.brk || mmap_double_is_mapped(p, 100))
        << "the first block came neither from sbrk nor from a mapping of the stage's";
    hfree(p);
}

TEST(malloc, blocks_do_not_overlap) {
    static Block blocks[200];
    for (std::size_t i = 0; i < 200; ++i) blocks[i] = alloc_filled(1 + (i * 37) % 300);
    check_disjoint(blocks, 200);
    check_intact(blocks, 200);
    check_walk(blocks, 200, true);
}

TEST(malloc, zero_size_is_unique) {
    static Block zeros[64];
    for (auto& z : zeros) {
        z.p = static_cast<unsigned char*>(hmalloc(0));
        z.n = 0;
        CHECK(z.p != nullptr) << "hmalloc(0) returned NULL";
    }
    // Interleaved with real blocks, which must not cover them either.
    static Block ones[8];
    for (auto& b : ones) b = alloc_filled(1);
    static Block all[72];
    for (int i = 0; i < 64; ++i) all[i] = zeros[i];
    for (int i = 0; i < 8; ++i) all[64 + i] = ones[i];
    check_disjoint(all, 72);
    check_walk(all, 72, true);
    static StderrCapture cap;
    cap.begin();
    for (auto& z : zeros) hfree(z.p);
    cap.end();
    CHECK(cap.empty()) << "hfree of hmalloc(0) blocks complained: " << cap.text();
    check_intact(ones, 8);
    check_walk(ones, 8, true);
}

TEST(malloc, boundary_sizes) {
    static Block blocks[NBOUNDARY];
    for (std::size_t i = 0; i < NBOUNDARY; ++i) blocks[i] = alloc_filled(BOUNDARY_SIZES[i]);
    check_intact(blocks, NBOUNDARY);
    check_disjoint(blocks, NBOUNDARY);
    check_walk(blocks, NBOUNDARY, true);
    // Free every other one and allocate the same sizes again.
    for (std::size_t i = 0; i < NBOUNDARY; i += 2) hfree(blocks[i].p);
    for (std::size_t i = 0; i < NBOUNDARY; i += 2) blocks[i] = alloc_filled(BOUNDARY_SIZES[i]);
    check_intact(blocks, NBOUNDARY);
    check_disjoint(blocks, NBOUNDARY);
    check_walk(blocks, NBOUNDARY, true);
}

TEST(malloc, large_block) {
    constexpr std::size_t SIZE = std::size_t{256} << 20;
    Block small = alloc_filled(64);
    auto* p = static_cast<unsigned char*>(hmalloc(SIZE));
    CHECK(p != nullptr) << "hmalloc(256 MiB) returned NULL (errno " << errno << ")";
    // On the break heap, the break is above its end; a stage may also give
    // it a mapping of its own (stage 09 on). An allocator without hwalk
    // (make check LIB=...) may also have memory the doubles never saw.
    auto* c = reinterpret_cast<char*>(p);
    bool in_region = c >= sbrk_double_region() && c < current_break();
    if (api.hwalk != nullptr ? walk_now().find(p) != nullptr : in_region) {
        CHECK_GE(static_cast<std::size_t>(current_break() - reinterpret_cast<char*>(p)), SIZE)
            << "the break is not above the end of the block";
    } else if (api.hwalk != nullptr) {
        CHECK(mmap_double_is_mapped(p, SIZE)) << "the block is neither on the heap nor in a mapping of its own";
    }
    std::memset(p, 0xA5, 4096);
    std::memset(p + SIZE - 4096, 0x5A, 4096);
    CHECK_EQ(p[0], 0xA5);
    CHECK_EQ(p[SIZE - 1], 0x5A);
    check_intact(small);
    Block big{p, SIZE, 0};
    check_disjoint({small, big});
    check_walk({small, big});
    hfree(p);
    check_intact(small);
}

TEST(malloc, huge_is_enomem) {
    static const std::size_t sizes[] = {
        SIZE_MAX,         SIZE_MAX - 1,     SIZE_MAX - 15,    SIZE_MAX - 64, static_cast<std::size_t>(PTRDIFF_MAX),
        std::size_t{PTRDIFF_MAX} + 1,       SIZE_MAX / 2 + 1, std::size_t{PTRDIFF_MAX} - 4096,
        std::size_t{1} << 62,               std::size_t{1} << 40,  // beyond the double's 64 GiB region
    };
    Block keep = alloc_filled(100);
    for (std::size_t size : sizes) {
        Mark m = mark();
        errno = 0;
        void* p = hmalloc(size);
        CHECK(p == nullptr) << "hmalloc(" << size << ") returned " << p;
        CHECK_EQ(errno, ENOMEM) << "errno after hmalloc(" << size << ")";
        CHECK_EQ(current_break(), m.brk) << "the break moved for hmalloc(" << size << ")";
        Since s = since(m);
        CHECK_EQ(s.shrinks, 0ul) << "hmalloc(" << size << ") shrank the heap (a wrapped size given to sbrk?)";
        CHECK_EQ(s.grows, 0ul) << "hmalloc(" << size << ")";
        // A size that wraps when a header is added must not reach sbrk at all.
        if (size > SIZE_MAX - 4096) {
            CHECK_EQ(s.refused, 0ul) << "hmalloc(" << size << ") asked sbrk for memory";
        }
        check_intact(keep);
        check_walk(&keep, 1);
    }
    Block after = alloc_filled(100);
    check_intact(keep);
    check_disjoint({keep, after});
    check_walk({keep, after}, true);
}

TEST(malloc, sbrk_refusal_is_enomem) {
    static Block keep[3];
    for (auto& b : keep) b = alloc_filled(200);
    hfree(keep[1].p);  // a free block too small for what follows
    keep[1] = keep[2];
    char* brk = current_break();
    // More than any free space a stage keeps at the top (stage 08 on).
    constexpr std::size_t BIG = 2 * TOP_KEPT_MAX;
    for (int attempt = 0; attempt < 2; ++attempt) {
        refuse_os_after(0);  // sbrk, and mmap for a stage that maps large blocks
        errno = 0;
        void* p = hmalloc(BIG);
        CHECK(p == nullptr) << "hmalloc(" << BIG << ") returned " << p << " while the OS refuses";
        CHECK_EQ(errno, ENOMEM);
        CHECK_EQ(current_break(), brk);
        check_intact(keep, 2);
        check_walk(keep, 2);
    }
    // A request a free block can serve needs no sbrk.
    void* q = hmalloc(100);
    CHECK(q != nullptr) << "hmalloc(100) failed although a free 200-byte block exists";
    hfree(q);
    refuse_os_after(-1);
    Block b = alloc_filled(50000);
    check_intact(keep, 2);
    check_disjoint({keep[0], keep[1], b});
    check_walk({keep[0], keep[1], b});
}

TEST(malloc, respects_foreign_memory) {
    // Someone else (glibc's malloc, in a real process) moves the break between
    // our calls: their memory must never become part of a block.
    Block a = alloc_filled(100);
    Block other = foreign_block(4096 + 7);
    Block b = alloc_filled(5000);
    Block c = alloc_filled(10);
    check_intact(other, "foreign memory");
    check_intact({a, b, c});
    CHECK(!overlap(b.p, b.n, other.p, other.n)) << "the new block covers someone else's memory";
    check_walk({a, b, c}, true, {other});
    hfree(b.p);
    hfree(a.p);
    check_intact(other, "foreign memory");
    check_intact(c);
    check_walk({c}, true, {other});
}

// ---- align ----------------------------------------------------------------------------

TEST(align, every_result) {
    // The double's break starts 8 bytes off a multiple of 16, so a stage that
    // does not align its first block fails at once.
    static Block blocks[300];
    for (std::size_t i = 0; i < 300; ++i) {
        std::size_t size = i < NBOUNDARY ? BOUNDARY_SIZES[i] : (i * 7919) % 777;
        blocks[i] = alloc_filled(size);
        CHECK(aligned(blocks[i].p)) << "hmalloc(" << size << ") returned " << blocks[i].p
                                    << ", not a multiple of " << ALIGNMENT;
    }
    for (std::size_t i = 0; i < 300; i += 3) hfree(blocks[i].p);
    for (std::size_t i = 0; i < 300; i += 3) {
        blocks[i] = alloc_filled(i % 50);
        CHECK(aligned(blocks[i].p)) << "hmalloc(" << i % 50 << ") returned " << blocks[i].p << " (reused)";
    }
}

// What every allocator must do (C's malloc returns memory aligned for any
// object that fits: a request of 16 bytes or more may hold a long double).
// Smaller requests are align.every_result's: hmalloc aligns them to 16 too,
// where an allocator with 8-byte size classes (jemalloc) may legitimately not.
TEST(align, requests_of_16_or_more) {
    static Block blocks[200];
    for (std::size_t i = 0; i < 200; ++i) {
        std::size_t size = 16 + (i * 7919) % 3000;
        if (i < NBOUNDARY && BOUNDARY_SIZES[i] >= 16) size = BOUNDARY_SIZES[i];
        blocks[i] = alloc_filled(size);
        CHECK(aligned(blocks[i].p)) << "hmalloc(" << size << ") returned " << blocks[i].p << ", not a multiple of "
                                    << ALIGNMENT;
    }
    for (std::size_t i = 0; i < 200; i += 3) hfree(blocks[i].p);
    for (std::size_t i = 0; i < 200; i += 3) {
        std::size_t size = 16 + i % 100;
        blocks[i] = alloc_filled(size);
        CHECK(aligned(blocks[i].p)) << "hmalloc(" << size << ") returned " << blocks[i].p << " (reused), not a multiple of "
                                    << ALIGNMENT;
    }
    check_intact(blocks, 200);
}

TEST(align, after_foreign_break_move) {
    Block a = alloc_filled(24);
    CHECK(aligned(a.p)) << "hmalloc(24) returned " << a.p;
    for (std::size_t odd : {1, 3, 13, 4095}) {
        Block other = foreign_block(odd);
        Block b = alloc_filled(40);
        CHECK(aligned(b.p)) << "after someone else moved the break by " << odd << ", hmalloc(40) returned " << b.p;
        check_intact(other, "foreign memory");
        CHECK(!overlap(b.p, b.n, other.p, other.n)) << "the new block covers someone else's memory";
    }
}

TEST(align, calloc_and_realloc_results) {
    NEED(hcalloc);
    NEED(hrealloc);
    static Block blocks[40];
    for (std::size_t i = 0; i < 40; ++i) {
        std::size_t count = 1 + i % 5, size = (i * 37) % 91;
        void* p = hcalloc(count, size);
        CHECK(p != nullptr);
        CHECK(aligned(p)) << "hcalloc(" << count << ", " << size << ") returned " << p;
        blocks[i] = Block{static_cast<unsigned char*>(p), count * size, 0};
        fill(blocks[i]);
    }
    // Grow and shrink every other block, in place or moved.
    for (std::size_t i = 0; i < 40; i += 2) {
        for (std::size_t size : {blocks[i].n + 1, blocks[i].n + 300, std::size_t{5}, std::size_t{3000}}) {
            void* q = hrealloc(blocks[i].p, size);
            CHECK(q != nullptr);
            CHECK(aligned(q)) << "hrealloc(" << blocks[i].p << ", " << size << ") returned " << q;
            blocks[i] = Block{static_cast<unsigned char*>(q), size, 0};
            fill(blocks[i]);
        }
    }
    check_intact(blocks, 40);
    check_disjoint(blocks, 40);
    check_walk(blocks, 40, true);
}

// ---- reuse -----------------------------------------------------------------------------

TEST(reuse, freed_block_is_reused) {
    // Above 1 KiB, on the break heap in every stage: from stage 14 on, a
    // smaller request goes to a page of its own size class, never into a
    // freed block of another class.
    Block a = alloc_filled(3000);
    Block guard = alloc_filled(1040);
    hfree(a.p);
    Mark m = mark();
    void* b = hmalloc(3000);
    CHECK_EQ(b, static_cast<void*>(a.p)) << "the freed block was not reused for the same size";
    CHECK_EQ(since(m).grows, 0ul) << "the heap grew although a free block fits";
    check_intact(guard);
    hfree(b);
    // A smaller request fits the freed block too.
    m = mark();
    void* c = hmalloc(1100);
    CHECK(c != nullptr);
    CHECK(static_cast<unsigned char*>(c) >= a.p && static_cast<unsigned char*>(c) < a.p + a.n)
        << "hmalloc(1100) returned " << c << ", not in the free 3000-byte block at " << a.p;
    CHECK_EQ(since(m).grows, 0ul) << "the heap grew although a free block fits";
}

TEST(reuse, most_recently_freed_first) {
    // Three blocks of one size, kept apart by live guards so they cannot
    // merge, freed in address order: the next request of that size gets the
    // block freed last, whose bytes are the likeliest to be in the cache still.
    // A small size, then one above 1 KiB (an allocator may keep those apart,
    // in lists sorted by size, as stage 13 does: equal sizes still go LIFO).
    for (std::size_t size : {std::size_t{200}, std::size_t{1500}}) {
        Block freed[3], guards[3];
        for (int i = 0; i < 3; ++i) {
            freed[i] = alloc_filled(size);
            guards[i] = alloc_filled(size);
        }
        for (auto& b : freed) hfree(b.p);
        void* again = hmalloc(size);
        CHECK(again != nullptr) << "hmalloc(" << size << ") returned NULL";
        const char* which = again == freed[0].p ? "the one freed first" : again == freed[1].p ? "the second one freed" : "another block";
        CHECK_EQ(again, static_cast<void*>(freed[2].p))
            << "after three blocks of " << size << " bytes were freed, hmalloc(" << size << ") returned " << which
            << ", not the block freed last";
        check_intact(guards, 3);
        hfree(again);
        for (auto& g : guards) hfree(g.p);
    }
}

// ---- fit: which free block a request gets ----------------------------------------------
//
// Each test frees a larger block that lies lower in the heap and is freed
// last, so that both first fit by address and a LIFO list take it, and a
// smaller block that fits too: best fit must take the smaller one. Live
// guards keep the blocks from merging, and the one above keeps the smaller
// block off the top of the heap. From stage 14 on, blocks of up to 1 KiB are
// in pages of their size class, where the block freed last in the request's
// class is the fit; the tests that need the break heap's choice use larger
// blocks, and guards of GUARD bytes, on the break heap in every stage.

namespace {

// A live block between two free ones, on the break heap in every stage.
constexpr std::size_t GUARD = 1040;

const char* which_block(const void* p, const Block& larger, const Block* other = nullptr) {
    if (p == larger.p) return "the larger block (lower in the heap, freed last)";
    if (other != nullptr && p == other->p) return "a free block too small for the request";
    return "another block";
}

}  // namespace

TEST(fit, smallest_block_that_fits) {
    constexpr std::size_t LARGE = 600, SMALL = 200;
    Block large = alloc_filled(LARGE);
    Block g1 = alloc_filled(16);
    Block small = alloc_filled(SMALL);
    Block g2 = alloc_filled(16);
    hfree(small.p);
    hfree(large.p);
    Mark m = mark();
    void* p = hmalloc(SMALL);
    CHECK(p != nullptr) << "hmalloc(" << SMALL << ") returned NULL";
    CHECK_EQ(p, static_cast<void*>(small.p))
        << "with free blocks of " << LARGE << " and " << SMALL << " bytes, hmalloc(" << SMALL << ") returned "
        << which_block(p, large) << ", not the smallest free block that fits";
    CHECK_EQ(since(m).grows, 0ul) << "the heap grew although a free block fits";
    check_intact({g1, g2});
    hfree(p);
    hfree(g1.p);
    hfree(g2.p);
}

TEST(fit, smallest_in_a_size_range) {
    // Three free blocks of close sizes above 1 KiB (stage 13 keeps them in
    // one bin): 1016 bytes, too small for the request, 1040 and 1200. The
    // request (1030) fits the last two; the 1040-byte block is the best fit.
    constexpr std::size_t LARGE = 1200, SMALL = 1040, TOO_SMALL = 1016, REQUEST = 1030;
    Block large = alloc_filled(LARGE);
    Block g1 = alloc_filled(GUARD);
    Block small = alloc_filled(SMALL);
    Block g2 = alloc_filled(GUARD);
    Block too_small = alloc_filled(TOO_SMALL);
    Block g3 = alloc_filled(GUARD);
    hfree(small.p);
    hfree(too_small.p);
    hfree(large.p);
    Mark m = mark();
    void* p = hmalloc(REQUEST);
    CHECK(p != nullptr) << "hmalloc(" << REQUEST << ") returned NULL";
    CHECK_EQ(p, static_cast<void*>(small.p))
        << "with free blocks of " << LARGE << ", " << SMALL << " and " << TOO_SMALL << " bytes, hmalloc(" << REQUEST
        << ") returned " << which_block(p, large, &too_small) << ", not the smallest free block that fits";
    CHECK_EQ(since(m).grows, 0ul) << "the heap grew although a free block fits";
    check_intact({g1, g2, g3});
    hfree(p);
    for (const Block& g : {g1, g2, g3}) hfree(g.p);
}

TEST(fit, smallest_larger_block_is_split) {
    // No free block near the request's size: the smallest of the larger ones
    // (3000 bytes, not 6000) serves it, and keeps its rest as a free block.
    constexpr std::size_t LARGE = 6000, SMALL = 3000, REQUEST = 1100;
    Block large = alloc_filled(LARGE);
    Block g1 = alloc_filled(GUARD);
    Block small = alloc_filled(SMALL);
    Block g2 = alloc_filled(GUARD);
    hfree(small.p);
    hfree(large.p);
    Mark m = mark();
    Block b = alloc_filled(REQUEST);
    CHECK_EQ(static_cast<void*>(b.p), static_cast<void*>(small.p))
        << "with free blocks of " << LARGE << " and " << SMALL << " bytes, hmalloc(" << REQUEST << ") returned "
        << which_block(b.p, large) << ", not the smallest free block that fits";
    CHECK_EQ(since(m).grows, 0ul) << "the heap grew although a free block fits";
    // The rest of the 600-byte block is a free block of its own, not handed out with it.
    const Walk& w = walk_now();
    const BlockInfo* info = w.find(b.p);
    CHECK(info != nullptr) << "hwalk does not show the block at " << b.p;
    CHECK_LT(info->size, std::size_t{SMALL / 2}) << "the 3000-byte block was handed out whole for hmalloc(" << REQUEST << ")";
    bool rest_free = false;
    for (std::size_t i = 0; i < w.count; ++i) {
        if (w.blocks[i].free && w.blocks[i].payload > b.p && w.blocks[i].payload < g2.p) rest_free = true;
    }
    CHECK(rest_free) << "hwalk shows no free block for the rest of the 3000-byte block";
    check_intact({b, g1, g2});
    hfree(b.p);
    hfree(g1.p);
    hfree(g2.p);
}
