// tests/trim.cpp: giving memory back by lowering the break, and only ours.
#include "harness.hpp"

using namespace suite;

namespace {

const char* header_of(const void* payload) {
    const BlockInfo* b = walk_now().find(payload);
    CHECK(b != nullptr) << "block " << payload << " is not in hwalk";
    return static_cast<const char*>(b->header);
}

}  // namespace

TEST(trim, lowers_break) {
    Block a = alloc_filled(5000);
    const char* header = header_of(a.p);
    Mark m = mark();
    hfree(a.p);
    CHECK_LT(current_break(), m.brk) << "freeing the top block did not lower the break";
    CHECK_LE(current_break(), header) << "the break stayed above the freed block's header";
    CHECK_GE(current_break(), start.brk) << "the break went below where the test started";
    CHECK_GE(since(m).shrinks, 1ul);
    CHECK(walk_now().find(a.p) == nullptr) << "hwalk still lists the block given back to the OS";
    check_walk(nullptr, 0, true);
}

TEST(trim, releases_free_run_below) {
    // The bug of the C predecessor: only the top block was given back, and
    // the free blocks below it stayed, although nothing of ours was above them.
    Block a = alloc_filled(3000), b = alloc_filled(3000), c = alloc_filled(3000);
    const char* lowest = header_of(a.p);
    hfree(b.p);
    hfree(a.p);
    Mark m = mark();
    hfree(c.p);
    CHECK_LE(current_break(), lowest) << "after freeing the top block, the free blocks below it were not given back";
    CHECK_GE(current_break(), start.brk) << "the break went below where the test started";
    CHECK_GE(since(m).shrinks, 1ul);
    check_walk(nullptr, 0, true);
    CHECK_EQ(walk_now().count, start.blocks) << "blocks given back are still in hwalk";
}

TEST(trim, not_when_break_moved_by_others) {
    Block a = alloc_filled(3000);
    Block other = foreign_block(4096);
    Mark m = mark();
    hfree(a.p);
    Since s = since(m);
    CHECK_EQ(s.shrinks, 0ul) << "freeing our top block lowered the break although someone else's memory is above it";
    CHECK_EQ(s.refused, 0ul) << "freeing our top block tried to lower the break";
    CHECK_EQ(current_break(), m.brk);
    check_intact(other, "foreign memory");
    // The block is still ours, free, and reusable without growing.
    m = mark();
    void* p = hmalloc(3000);
    CHECK_EQ(p, static_cast<void*>(a.p)) << "the free block was not reused";
    CHECK_EQ(since(m).grows, 0ul);
    check_intact(other, "foreign memory");
}

TEST(trim, resumes_when_break_returns) {
    // Someone else moves the break up and back down again: the break ends at
    // our heap once more, and freeing the top block may lower it.
    Block keep = alloc_filled(64);
    Block a = alloc_filled(3000);
    const char* header = header_of(a.p);
    Block other = foreign_block(4096);
    CHECK(sbrk_double_foreign(-static_cast<intptr_t>(other.n)) != reinterpret_cast<void*>(-1));
    Mark m = mark();
    hfree(a.p);
    CHECK_LE(current_break(), header) << "the top block was not given back although the break ends at it again";
    CHECK_GE(since(m).shrinks, 1ul);
    check_intact(keep);
    check_walk({keep}, true);
}

TEST(trim, not_into_foreign_memory) {
    // a, someone else's memory, b. Freeing b may give b back; freeing a then
    // must not: the break ends at the foreign memory, not at a.
    Block a = alloc_filled(3000);
    Block other = foreign_block(5000);
    Block b = alloc_filled(3000);
    hfree(b.p);
    check_intact(other, "foreign memory");
    CHECK_GE(current_break(), reinterpret_cast<char*>(other.p + other.n)) << "the break went into foreign memory";
    Mark m = mark();
    hfree(a.p);
    CHECK_EQ(since(m).shrinks, 0ul) << "freeing a block below someone else's memory lowered the break";
    CHECK_GE(current_break(), reinterpret_cast<char*>(other.p + other.n)) << "the break went into foreign memory";
    check_intact(other, "foreign memory");
    check_walk({}, true, {other});
}

TEST(trim, heap_usable_after_full_trim) {
    // Freeing every block empties the list; the next allocation must build
    // it again from nothing (no stale first/last pointers).
    static const std::size_t sizes[] = {100, 2000, 16, 5000, 1, 300};
    constexpr std::size_t N = sizeof sizes / sizeof sizes[0];
    static Block blocks[N];
    for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < N; ++i) blocks[i] = alloc_filled(sizes[i]);
        check_disjoint(blocks, N);
        check_walk(blocks, N, true);
        const char* first = header_of(blocks[0].p);
        for (std::size_t i : {2, 0, 4, 1, 5, 3}) hfree(blocks[i].p);
        CHECK_LE(current_break(), first) << "round " << round
                                         << ": after freeing every block the break did not return below the first one";
        CHECK_GE(current_break(), start.brk) << "the break went below where the test started";
        CHECK_EQ(walk_now().count, start.blocks) << "round " << round << ": blocks remain after freeing all";
    }
    Block last = alloc_filled(64);
    check_walk({last}, true);
}

// Every path that frees the top of the heap gives it back, not only hfree.

TEST(trim, after_realloc_shrink) {
    // Shrinking the top block frees its tail, which is then the top of the heap.
    Block keep = alloc_filled(64);
    Block a = alloc_filled(20000);
    Mark m = mark();
    void* q = hrealloc(a.p, 100);
    CHECK_EQ(q, static_cast<void*>(a.p)) << "shrinking the top block moved it";
    const BlockInfo* b = walk_now().find(q);
    CHECK(b != nullptr) << "the shrunk block is not in hwalk";
    char* end = static_cast<char*>(b->payload) + b->size;
    CHECK_EQ(current_break(), end) << "after hrealloc shrank the top block, its tail was not given back to the OS";
    CHECK_GE(since(m).shrinks, 1ul);
    a.n = 100;
    check_intact({keep, a});
    check_walk({keep, a}, true);
}

TEST(trim, stops_at_gap) {
    // x and y (free) are ours, then someone else's memory, then z and w.
    // Freeing w frees the run z, w above the gap: that run goes back, and
    // the break stops at the foreign memory. y is free too, and the list
    // runs y -> z without a used block between them, but y lies below the
    // gap: lowering the break to y would take the foreign memory away.
    Block x = alloc_filled(64);
    Block y = alloc_filled(3000);
    Block other = foreign_block(5000);
    Block z = alloc_filled(3000);
    Block w = alloc_filled(3000);
    const BlockInfo* zb = walk_now().find(z.p);
    CHECK(zb != nullptr) << "block " << z.p << " is not in hwalk";
    const char* z_header = static_cast<const char*>(zb->header);
    char* foreign_end = reinterpret_cast<char*>(other.p + other.n);
    hfree(y.p);
    hfree(z.p);
    hfree(w.p);
    CHECK_GE(current_break(), foreign_end) << "trimming went across the gap: the break is below someone else's memory";
    check_intact(other, "foreign memory");
    CHECK_LE(current_break(), z_header) << "the free run above the gap was not given back";
    const BlockInfo* yb = walk_now().find(y.p);
    CHECK(yb != nullptr && yb->free != 0) << "the free block below the gap is no longer in the heap";
    check_intact(x);
    check_walk({x}, true, {other});
}
