// tests/trim.cpp: giving memory back by lowering the break, and only ours.
#include "harness.hpp"

using namespace suite;

namespace {

// Where the block's header starts. An allocator without hwalk (make check
// LIB=...) shows no headers: its payload stands in (the tests allow
// TOP_KEPT_MAX above it, far more than any header).
const char* header_of(const void* payload) {
    if (api.hwalk == nullptr) return static_cast<const char*>(payload);
    const BlockInfo* b = walk_now().find(payload);
    CHECK(b != nullptr) << "block " << payload << " is not in hwalk";
    return static_cast<const char*>(b->header);
}

}  // namespace

// Part I gives every free byte at the top back at once; from stage 08 on a
// stage keeps up to TOP_KEPT_MAX free there for the next requests
// (hysteresis). So these tests free far more than that at the top, and
// check the break comes down to within TOP_KEPT_MAX of where the freed
// memory began.

TEST(trim, lowers_break) {
    static Block pieces[64];  // 4 MiB
    alloc_pieces(pieces, 64);
    const char* header = header_of(pieces[0].p);
    Mark m = mark();
    free_pieces_top_down(pieces, 64);
    CHECK_LT(current_break(), m.brk) << "freeing the top block did not lower the break";
    CHECK_LE(current_break(), header + TOP_KEPT_MAX)
        << "the break stayed more than " << TOP_KEPT_MAX << " bytes above the freed blocks";
    CHECK_GE(current_break(), start.brk) << "the break went below where the test started";
    CHECK_GE(since(m).shrinks, 1ul);
    for (const Block& b : pieces) {
        if (api.hwalk != nullptr && b.p >= reinterpret_cast<unsigned char*>(current_break())) {
            CHECK(walk_now().find(b.p) == nullptr) << "hwalk still lists the block given back to the OS";
        }
    }
    check_walk(nullptr, 0, true);
}

TEST(trim, releases_free_run_below) {
    // The bug of the C predecessor: only the top block was given back, and
    // the free blocks below it stayed, although nothing of ours was above them.
    static Block a[16], b[16], c[16];  // 1 MiB each
    alloc_pieces(a, 16);
    alloc_pieces(b, 16);
    alloc_pieces(c, 16);
    const char* lowest = header_of(a[0].p);
    free_pieces_top_down(b, 16);
    free_pieces_top_down(a, 16);
    Mark m = mark();
    free_pieces_top_down(c, 16);
    CHECK_LE(current_break(), lowest + TOP_KEPT_MAX)
        << "after freeing the top block, the free blocks below it were not given back";
    CHECK_GE(current_break(), start.brk) << "the break went below where the test started";
    CHECK_GE(since(m).shrinks, 1ul);
    check_walk(nullptr, 0, true);
}

TEST(trim, not_when_break_moved_by_others) {
    // Far more than any stage keeps at the top, so a stage that trims would.
    static Block a[32];
    alloc_pieces(a, 32);
    Block other = foreign_block(4096);
    Mark m = mark();
    free_pieces_top_down(a, 32);
    Since s = since(m);
    CHECK_EQ(s.shrinks, 0ul) << "freeing our top block lowered the break although someone else's memory is above it";
    CHECK_EQ(s.refused, 0ul) << "freeing our top block tried to lower the break";
    CHECK_EQ(current_break(), m.brk);
    check_intact(other, "foreign memory");
    // The blocks are still ours, free, and reusable without growing.
    m = mark();
    void* p = hmalloc(HEAP_PIECE);
    CHECK_EQ(p, static_cast<void*>(a[0].p)) << "the free block was not reused";
    CHECK_EQ(since(m).grows, 0ul);
    check_intact(other, "foreign memory");
}

TEST(trim, resumes_when_break_returns) {
    // Someone else moves the break up and back down again: the break ends at
    // our heap once more, and freeing the top blocks may lower it.
    Block keep = alloc_filled(64);
    static Block a[32];  // 2 MiB
    alloc_pieces(a, 32);
    const char* header = header_of(a[0].p);
    Block other = foreign_block(4096);
    CHECK(sbrk_double_foreign(-static_cast<intptr_t>(other.n)) != reinterpret_cast<void*>(-1));
    Mark m = mark();
    free_pieces_top_down(a, 32);
    CHECK_LE(current_break(), header + TOP_KEPT_MAX)
        << "the top block was not given back although the break ends at it again";
    CHECK_GE(since(m).shrinks, 1ul);
    check_intact(keep);
    check_walk({keep}, true);
}

TEST(trim, not_into_foreign_memory) {
    // a, someone else's memory, b (each far more than any stage keeps at the
    // top). Freeing b may give b back; freeing a then must not: the break
    // ends at the foreign memory, not at a.
    static Block a[32], b[32];
    alloc_pieces(a, 32);
    Block other = foreign_block(5000);
    alloc_pieces(b, 32);
    free_pieces_top_down(b, 32);
    check_intact(other, "foreign memory");
    CHECK_GE(current_break(), reinterpret_cast<char*>(other.p + other.n)) << "the break went into foreign memory";
    Mark m = mark();
    free_pieces_top_down(a, 32);
    CHECK_EQ(since(m).shrinks, 0ul) << "freeing a block below someone else's memory lowered the break";
    CHECK_GE(current_break(), reinterpret_cast<char*>(other.p + other.n)) << "the break went into foreign memory";
    check_intact(other, "foreign memory");
    check_walk({}, true, {other});
}

TEST(trim, heap_usable_after_full_trim) {
    // Freeing every block empties the heap (Part II keeps a free block at
    // the top); the next allocation must build it again (no stale first or
    // last pointers). The first block is above 1 KiB, so that it is on the
    // break heap in every stage (stage 14 serves smaller ones from pages).
    static const std::size_t sizes[] = {2000, 100, 16, 5000, 1, 300};
    constexpr std::size_t N = sizeof sizes / sizeof sizes[0];
    constexpr std::size_t P = 32;  // 2 MiB of pieces above them
    static Block blocks[N + P];
    for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < N; ++i) blocks[i] = alloc_filled(sizes[i]);
        alloc_pieces(blocks + N, P);
        check_disjoint(blocks, N + P);
        check_walk(blocks, N + P, true);
        const char* first = header_of(blocks[0].p);
        for (std::size_t i : {2, 0, 4, 1, 5, 3}) hfree(blocks[i].p);
        for (std::size_t i = N; i < N + P; ++i) hfree(blocks[i].p);
        CHECK_LE(current_break(), first + TOP_KEPT_MAX)
            << "round " << round << ": after freeing every block the break did not return below the first one (+ "
            << TOP_KEPT_MAX << ")";
        CHECK_GE(current_break(), start.brk) << "the break went below where the test started";
        if (api.hwalk != nullptr) {
            CHECK_EQ(walk_now().used(), start.used) << "round " << round << ": blocks remain after freeing all";
        }
        check_walk(nullptr, 0, true);
    }
    Block last = alloc_filled(64);
    check_walk({last}, true);
}

// Every path that frees the top of the heap gives it back, not only hfree.

TEST(trim, after_realloc_shrink) {
    // Shrinking the top block frees its tail, which joins the free memory at
    // the top. To make that free top large enough for any stage to trim
    // (Part II keeps a pad), free 2 MiB above the block while someone else's
    // memory sits above it (nothing may be trimmed then), and let the break
    // come back: the shrink is then the first call that can give it back.
    Block keep = alloc_filled(64);
    Block a = alloc_filled(20000);
    static Block pieces[32];  // 2 MiB
    alloc_pieces(pieces, 32);
    Block other = foreign_block(4096);
    free_pieces_top_down(pieces, 32);
    CHECK(sbrk_double_foreign(-static_cast<intptr_t>(other.n)) != reinterpret_cast<void*>(-1));
    Mark m = mark();
    void* q = hrealloc(a.p, 100);
    CHECK_EQ(q, static_cast<void*>(a.p)) << "shrinking the top block moved it";
    char* end = static_cast<char*>(q) + 100;  // without hwalk (make check LIB=...): the request's end
    if (api.hwalk != nullptr) {
        const BlockInfo* b = walk_now().find(q);
        CHECK(b != nullptr) << "the shrunk block is not in hwalk";
        end = static_cast<char*>(b->payload) + b->size;
    }
    CHECK_GE(since(m).shrinks, 1ul) << "after hrealloc shrank the top block, its tail was not given back to the OS";
    CHECK_LE(current_break(), end + TOP_KEPT_MAX)
        << "after hrealloc shrank the top block, more than " << TOP_KEPT_MAX << " bytes stayed free above it";
    CHECK_GE(current_break(), end) << "the break went below the shrunk block";
    a.n = 100;
    check_intact({keep, a});
    check_walk({keep, a}, true);
}

TEST(trim, stops_at_gap) {
    // Free blocks below someone else's memory, then that memory, then free
    // blocks above it (2 MiB each side: more than any stage keeps at the top).
    // The free run above the gap goes back; the break stops at the foreign
    // memory. The run below is free too, and the list of blocks goes from it
    // to the run above without a used block between them, but it lies below
    // the gap: lowering the break to it would take the foreign memory away.
    Block x = alloc_filled(64);
    static Block below[32], above[32];
    alloc_pieces(below, 32);
    Block other = foreign_block(5000);
    alloc_pieces(above, 32);
    const char* above_header = header_of(above[0].p);
    char* foreign_end = reinterpret_cast<char*>(other.p + other.n);
    free_pieces_top_down(below, 32);
    free_pieces_top_down(above, 32);
    CHECK_GE(current_break(), foreign_end) << "trimming went across the gap: the break is below someone else's memory";
    check_intact(other, "foreign memory");
    CHECK_LE(current_break(), above_header + TOP_KEPT_MAX) << "the free run above the gap was not given back";
    if (api.hwalk != nullptr) {
        const BlockInfo* yb = walk_now().find(below[0].p);
        CHECK(yb != nullptr && yb->free != 0) << "the free block below the gap is no longer in the heap";
    }
    check_intact(x);
    check_walk({x}, true, {other});
}

// ---- hysteresis (stage 08) ---------------------------------------------------------

TEST(trim, not_for_small_free_at_top) {
    // A small block freed at the top stays as free space for the next
    // request: lowering the break now would only mean raising it again.
    Block keep = alloc_filled(64);
    Block a = alloc_filled(5000);
    Mark m = mark();
    hfree(a.p);
    CHECK_EQ(since(m).shrinks, 0ul)
        << "freeing a small block at the top lowered the break: nothing is kept for the next request";
    Block b = alloc_filled(5000);
    CHECK_EQ(since(m).grows, 0ul) << "the next request of the same size grew the heap again";
    check_intact({keep, b});
    check_walk({keep, b}, true);
}

TEST(trim, gives_back_whole_pages_above_pad) {
    // Once the free top passes a threshold it goes back to the OS, but not
    // all of it: a pad stays for the next requests, and the break comes down
    // by whole pages (the unit the kernel takes back).
    Block keep = alloc_filled(64);
    static Block pieces[64];  // 4 MiB
    alloc_pieces(pieces, 64);
    const char* header = header_of(pieces[0].p);
    Mark m = mark();
    // Bottom up: the last hfree makes 4 MiB free at the top at once.
    for (const Block& b : pieces) hfree(b.p);
    Since s = since(m);
    CHECK_GE(s.shrinks, 1ul) << "freeing 4 MiB at the top gave nothing back";
    CHECK_LE(current_break(), header + TOP_KEPT_MAX)
        << "more than " << TOP_KEPT_MAX << " bytes stayed free at the top";
    Mark after = mark();
    Block again = alloc_filled(HEAP_PIECE);
    CHECK_EQ(since(after).grows, 0ul)
        << "the break came all the way down: nothing was kept for the next request";
    auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    CHECK_EQ(s.shrunk_bytes % page, 0ul) << "the break came down by " << s.shrunk_bytes
                                         << " bytes in all, not a whole number of pages";
    check_intact({keep, again});
    check_walk({keep, again}, true);
}
