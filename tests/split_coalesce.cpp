// tests/split_coalesce.cpp: cutting a free block for a smaller request, and
// merging free neighbours back together.
//
// Every test keeps a live guard block above the blocks it frees, so
// trimming the top of the heap cannot interfere. The blocks are all above
// 1 KiB: from stage 14 on, smaller ones live in pages of their size class,
// which are never split or merged; the break heap's blocks still are.
#include "harness.hpp"

using namespace suite;

// ---- split --------------------------------------------------------------------------

TEST(split, remainder_reused) {
    Block big = alloc_filled(8192);
    Block guard = alloc_filled(2048);
    hfree(big.p);
    Mark m = mark();
    Block s = alloc_filled(2048);
    CHECK_EQ(s.p, big.p) << "the free 8192-byte block was not used for hmalloc(2048)";
    Block t = alloc_filled(2048);
    CHECK(t.p > s.p && t.p < big.p + big.n) << "hmalloc(2048) returned " << t.p
                                             << ", not in the rest of the free block at " << big.p;
    CHECK_EQ(since(m).grows, 0ul) << "the heap grew although the free block had room";
    check_intact({s, t, guard});
    check_walk({s, t, guard}, true);
    // What is left is one free block, not lost.
    const BlockInfo* rest = nullptr;
    const Walk& w = walk_now();
    for (std::size_t i = 0; i < w.count; ++i) {
        if (w.blocks[i].free && w.blocks[i].payload > t.p && w.blocks[i].payload < guard.p) rest = &w.blocks[i];
    }
    CHECK(rest != nullptr) << "hwalk shows no free block for the rest of the split block";
    CHECK_GE(rest->size, std::size_t{8192 - 2 * 2048 - 2 * 64}) << "the rest of the split block is too small";
}

TEST(split, not_when_remainder_too_small) {
    // Free blocks of one size S; for each, a request leaving 0, 8, 16 ... 88
    // bytes over. A remainder too small for a header and 16 bytes must not
    // become a block; hmalloc(0) and hmalloc(1) right after show whether one
    // was carved anyway (they would land in it, on top of the guard; from
    // stage 14 on they go to pages of their own, and the test checks only
    // that every block stays apart and intact).
    constexpr std::size_t K = 12;
    static Block blocks[K], guards[K];
    for (std::size_t i = 0; i < K; ++i) {
        blocks[i] = alloc_filled(2048);
        guards[i] = alloc_filled(1040);
    }
    const BlockInfo* info = walk_now().find(blocks[0].p);
    CHECK(info != nullptr);
    std::size_t capacity = info->size;
    // live: the guards, the blocks not yet freed, and what replaced those freed.
    static Block live[5 * K];
    std::size_t n = 0;
    for (std::size_t i = 0; i < K; ++i) live[n++] = guards[i];
    for (std::size_t i = 0; i < K; ++i) live[n++] = blocks[i];
    for (std::size_t i = 0; i < K; ++i) {
        std::size_t request = capacity - 8 * i;
        hfree(blocks[i].p);
        Block x = alloc_filled(request);
        CHECK_EQ(x.p, blocks[i].p) << "hmalloc(" << request << ") did not reuse the free block of " << capacity;
        live[K + i] = x;
        void* z = hmalloc(0);
        CHECK(z != nullptr);
        live[n++] = Block{static_cast<unsigned char*>(z), 0, 0};
        live[n++] = alloc_filled(1);
        check_intact(guards[i], "guard block");
        check_intact(live, n);
        check_disjoint(live, n);
        check_walk(live, n, true);
    }
}

// ---- coalesce ---------------------------------------------------------------------------

namespace {

// After freeing neighbours, a request of their combined size lands at the
// lowest of them and the heap does not grow.
void check_merged(const Block& lowest, std::size_t request, const Block& guard) {
    Mark m = mark();
    Block merged = alloc_filled(request);
    CHECK_EQ(merged.p, lowest.p) << "hmalloc(" << request << ") did not land in the merged free blocks";
    CHECK_EQ(since(m).grows, 0ul) << "the heap grew although the freed neighbours together have room";
    check_intact(guard, "guard block");
    check_walk({merged, guard}, true);
}

}  // namespace

TEST(coalesce, left) {
    // Freeing b, whose left neighbour a is already free.
    Block a = alloc_filled(2000), b = alloc_filled(2000), guard = alloc_filled(2048);
    hfree(a.p);
    hfree(b.p);
    check_merged(a, 4000, guard);
}

TEST(coalesce, right) {
    // Freeing a, whose right neighbour b is already free.
    Block a = alloc_filled(2000), b = alloc_filled(2000), guard = alloc_filled(2048);
    hfree(b.p);
    hfree(a.p);
    check_merged(a, 4000, guard);
}

TEST(coalesce, both) {
    Block a = alloc_filled(2000), b = alloc_filled(2000), c = alloc_filled(2000), guard = alloc_filled(2048);
    hfree(a.p);
    hfree(c.p);
    hfree(b.p);
    check_merged(a, 6000, guard);
}

TEST(coalesce, not_across_foreign_memory) {
    // a and b are neighbours in our list, but someone else's memory lies
    // between them: merging them would hand that memory out.
    Block a = alloc_filled(2000);
    Block other = foreign_block(4096);
    Block b = alloc_filled(2000);
    Block guard = alloc_filled(2048);
    hfree(a.p);
    hfree(b.p);
    check_walk({guard}, true, {other});
    Block x = alloc_filled(3900);
    check_intact(other, "foreign memory");
    CHECK(!overlap(x.p, x.n, other.p, other.n)) << "hmalloc(3900) returned a block over someone else's memory";
    check_intact(guard, "guard block");
    check_walk({x, guard}, true, {other});
}
