// tests/calloc_realloc.cpp: hcalloc, hrealloc and hreallocarray.
#include <climits>
#include <cstring>

#include "harness.hpp"

using namespace suite;

namespace {

// A call that must fail with ENOMEM without touching the heap.
void check_enomem(void* result, const char* call, const Mark& m) {
    int e = errno;
    CHECK(result == nullptr) << call << " returned " << result;
    CHECK_EQ(e, ENOMEM) << "errno after " << call;
    CHECK_EQ(current_break(), m.brk) << call << " moved the break";
    Since s = since(m);
    CHECK_EQ(s.shrinks, 0ul) << call << " shrank the heap (a wrapped size given to sbrk?)";
    CHECK_EQ(s.grows, 0ul) << call << " grew the heap";
}

std::size_t min(std::size_t a, std::size_t b) { return a < b ? a : b; }

// `old` moved to `to` by hrealloc: its first min(old.n, new_size) bytes must
// have come along.
Block check_moved(const Block& old, void* to, std::size_t new_size) {
    CHECK(to != nullptr) << "hrealloc(" << old.p << ", " << new_size << ") returned NULL (errno " << errno << ")";
    Block moved{static_cast<unsigned char*>(to), old.n, old.tag};
    check_prefix_intact(moved, min(old.n, new_size), "the contents after hrealloc");
    Block now{moved.p, new_size, 0};
    fill(now);
    return now;
}

}  // namespace

// ---- calloc ---------------------------------------------------------------------------

TEST(calloc, zeroes_memory) {
    static const std::size_t shapes[][2] = {{1, 1}, {10, 10}, {3, 1000}, {1, 1 << 20}, {4096, 3}, {7, 13}};
    static Block blocks[6];
    std::size_t n = 0;
    for (const auto& s : shapes) {
        void* p = hcalloc(s[0], s[1]);
        CHECK(p != nullptr) << "hcalloc(" << s[0] << ", " << s[1] << ") returned NULL";
        check_zero(p, s[0] * s[1], "hcalloc's block");
        blocks[n] = Block{static_cast<unsigned char*>(p), s[0] * s[1], 0};
        fill(blocks[n++]);
    }
    check_intact(blocks, n);
    check_disjoint(blocks, n);
    check_walk(blocks, n, true);
}

TEST(calloc, zeroes_reused_dirty_block) {
    Block dirty = alloc_filled(4096);
    Block guard = alloc_filled(64);
    hfree(dirty.p);
    Mark m = mark();
    void* p = hcalloc(1, 4096);
    CHECK(p != nullptr);
    check_zero(p, 4096, "hcalloc's reused block");
    // The premise: the dirty block was reused (first fit, no growth).
    CHECK_EQ(p, static_cast<void*>(dirty.p)) << "the test expects hcalloc to reuse the freed block";
    CHECK_EQ(since(m).grows, 0ul);
    check_intact(guard);
    // Smaller pieces of a dirty block, too.
    hfree(p);
    Block again = alloc_filled(4096);
    hfree(again.p);
    void* q = hcalloc(100, 3);
    CHECK(q != nullptr);
    check_zero(q, 300, "hcalloc's block cut from a dirty one");
}

// malloc_usable_size says every byte of the block is the caller's, so calloc
// zeroes all of them, not only nmemb * size (glibc does the same). The case
// of the issue: calloc(1, 1) takes a dirty 48-byte block whole.
TEST(calloc, zeroes_usable_size) {
    NEED(malloc_usable_size);
    for (std::size_t dirty_size : {48, 40, 64, 100}) {
        for (std::size_t want : {1, 9, 30}) {
            Block dirty = alloc_filled(dirty_size);
            Block guard = alloc_filled(64);
            std::memset(dirty.p, 0xa5, dirty_size);
            hfree(dirty.p);
            void* p = hcalloc(1, want);
            CHECK(p != nullptr);
            std::size_t usable = api.malloc_usable_size(p);
            CHECK_GE(usable, want);
            check_zero(p, usable, "the usable size of hcalloc's reused block");
            hfree(p);
            hfree(guard.p);
        }
    }
}

TEST(calloc, zeroes_memory_after_trim) {
    // Memory from sbrk starts zeroed, but not after the break came down: the
    // bytes between the lowered break and the end of its page keep what they
    // held, and a stage that keeps a pad at the top keeps dirty blocks there,
    // so a calloc that skips the clearing for "fresh" memory is wrong.
    NEED(hcalloc);
    Block keep = alloc_filled(40);
    static Block dirty[32];  // 2 MiB: more than any stage keeps at the top
    alloc_pieces(dirty, 32);
    free_pieces_top_down(dirty, 32);
    for (int i = 0; i < 32; ++i) {
        void* p = hcalloc(1, HEAP_PIECE);
        CHECK(p != nullptr);
        check_zero(p, HEAP_PIECE, "hcalloc's block after the break came down and up again");
    }
    check_intact(keep);
}

TEST(calloc, overflow_is_enomem) {
    static const std::size_t shapes[][2] = {
        {SIZE_MAX / 2 + 1, 2},   {2, SIZE_MAX / 2 + 1}, {std::size_t{1} << 32, std::size_t{1} << 32},
        {SIZE_MAX, SIZE_MAX},    {SIZE_MAX / 3 + 1, 3}, {65536, (std::size_t{1} << 48) + 1},
    };
    Block keep = alloc_filled(100);
    for (const auto& s : shapes) {
        Mark m = mark();
        errno = 0;
        void* p = hcalloc(s[0], s[1]);
        Text call;
        call << "hcalloc(" << s[0] << ", " << s[1] << ")";
        check_enomem(p, call.c_str(), m);
        CHECK_EQ(since(m).refused, 0ul) << call << " asked sbrk for memory although the product overflows";
        check_intact(keep);
    }
    check_walk({keep}, true);
}

TEST(calloc, huge_is_enomem) {
    static const std::size_t shapes[][2] = {
        {1, SIZE_MAX}, {SIZE_MAX, 1}, {1, PTRDIFF_MAX}, {std::size_t{1} << 20, std::size_t{1} << 30}};
    Block keep = alloc_filled(100);
    for (const auto& s : shapes) {
        Mark m = mark();
        errno = 0;
        void* p = hcalloc(s[0], s[1]);
        Text call;
        call << "hcalloc(" << s[0] << ", " << s[1] << ")";
        check_enomem(p, call.c_str(), m);
        check_intact(keep);
    }
    check_walk({keep}, true);
}

TEST(calloc, zero_members) {
    static const std::size_t shapes[][2] = {{0, 8}, {8, 0}, {0, 0}, {0, SIZE_MAX}, {SIZE_MAX, 0}};
    static Block blocks[5];
    for (std::size_t i = 0; i < 5; ++i) {
        void* p = hcalloc(shapes[i][0], shapes[i][1]);
        CHECK(p != nullptr) << "hcalloc(" << shapes[i][0] << ", " << shapes[i][1] << ") returned NULL";
        blocks[i] = Block{static_cast<unsigned char*>(p), 0, 0};
    }
    check_disjoint(blocks, 5);
    check_walk(blocks, 5, true);
    static StderrCapture cap;
    cap.begin();
    for (auto& b : blocks) hfree(b.p);
    cap.end();
    CHECK(cap.empty()) << "freeing hcalloc's zero-size blocks complained: " << cap.text();
    check_walk(nullptr, 0, true);
}

// ---- realloc ---------------------------------------------------------------------------

TEST(realloc, null_acts_as_malloc) {
    void* p = hrealloc(nullptr, 100);
    CHECK(p != nullptr) << "hrealloc(NULL, 100) returned NULL";
    Block b{static_cast<unsigned char*>(p), 100, 0};
    fill(b);
    void* z = hrealloc(nullptr, 0);
    CHECK(z != nullptr) << "hrealloc(NULL, 0) returned NULL; hmalloc(0) does not";
    Block zb{static_cast<unsigned char*>(z), 0, 0};
    check_disjoint({b, zb});
    check_walk({b, zb}, true);
    hfree(z);
    hfree(p);
    check_walk(nullptr, 0, true);
}

TEST(realloc, zero_size_frees) {
    Block a = alloc_filled(300);
    Block guard = alloc_filled(16);
    static StderrCapture cap;
    cap.begin();
    void* r = hrealloc(a.p, 0);
    cap.end();
    CHECK(r == nullptr) << "hrealloc(p, 0) returned " << r;
    CHECK(cap.empty()) << "hrealloc(p, 0) complained: " << cap.text();
    check_walk({guard}, true);
    Mark m = mark();
    void* again = hmalloc(300);
    CHECK_EQ(again, static_cast<void*>(a.p)) << "the block hrealloc(p, 0) freed was not reused";
    CHECK_EQ(since(m).grows, 0ul);
    check_intact(guard);
}

TEST(realloc, shrink_in_place) {
    Block a = alloc_filled(1000);
    Block guard = alloc_filled(16);
    for (std::size_t size : {900, 500, 100, 17, 1}) {
        void* q = hrealloc(a.p, size);
        CHECK_EQ(q, static_cast<void*>(a.p)) << "hrealloc to " << size << " bytes moved the block";
        a = check_moved(a, q, size);
        check_intact(guard);
        check_walk({a, guard}, true);
    }
}

TEST(realloc, shrink_gives_tail_back) {
    Block a = alloc_filled(4096);
    Block guard = alloc_filled(64);
    void* q = hrealloc(a.p, 64);
    CHECK_EQ(q, static_cast<void*>(a.p)) << "shrinking moved the block";
    a = check_moved(a, q, 64);
    Mark m = mark();
    Block b = alloc_filled(2048);
    CHECK(b.p > a.p && b.p < a.p + 4096) << "hmalloc(2048) returned " << b.p
                                         << ", not in the tail the shrunk block at " << a.p << " gave back";
    CHECK_EQ(since(m).grows, 0ul);
    check_intact({a, b, guard});
    check_walk({a, b, guard}, true);
}

TEST(realloc, grow_in_place_into_free_next) {
    // Above 1 KiB, so on the break heap in every stage (stage 14 serves
    // smaller blocks from pages of their size class).
    Block a = alloc_filled(1100);
    Block next = alloc_filled(4096);
    Block guard = alloc_filled(2048);
    hfree(next.p);
    Mark m = mark();
    void* q = hrealloc(a.p, 2048);
    CHECK_EQ(q, static_cast<void*>(a.p)) << "hrealloc did not grow into the free block after it";
    a = check_moved(a, q, 2048);
    CHECK_EQ(since(m).grows, 0ul);
    check_intact(guard);
    check_walk({a, guard}, true);
    // The rest of the free block is still there for others.
    Block c = alloc_filled(1500);
    CHECK(c.p > a.p && c.p < guard.p) << "hmalloc(1500) returned " << c.p << ", not in the rest of the free block";
    CHECK_EQ(since(m).grows, 0ul);
    check_intact({a, c, guard});
    check_walk({a, c, guard}, true);
}

TEST(realloc, grow_last_block_moves_break) {
    // Grown by far more than any stage keeps free at the top (stage 08 on).
    constexpr std::size_t GROWN = 2 * TOP_KEPT_MAX;
    Block keep = alloc_filled(2000);
    Block a = alloc_filled(2000);  // above 1 KiB: on the break heap in every stage
    Mark m = mark();
    void* q = hrealloc(a.p, GROWN);
    CHECK_EQ(q, static_cast<void*>(a.p)) << "the last block did not grow in place";
    CHECK_GT(current_break(), m.brk) << "the break did not move";
    CHECK_GE(since(m).grows, 1ul);
    a = check_moved(a, q, GROWN);
    // Grown again in small steps, it is still the last block each time: it
    // grows in place every time, however the stage moves the break.
    for (std::size_t n = GROWN + 12000; n <= GROWN + (600 << 10); n += 12000) {
        q = hrealloc(a.p, n);
        CHECK_EQ(q, static_cast<void*>(a.p)) << "the last block did not grow in place (from " << a.n << " to " << n
                                             << " bytes)";
        a = check_moved(a, q, n);
    }
    check_intact(keep);
    check_walk({keep, a}, true);
}

TEST(realloc, grow_moves_and_copies) {
    Block a = alloc_filled(100);
    Block guard = alloc_filled(100);  // a cannot grow in place
    void* q = hrealloc(a.p, 5000);
    CHECK(q != nullptr);
    CHECK_NE(q, static_cast<void*>(a.p)) << "hrealloc grew a block over its live neighbour";
    unsigned char* old = a.p;
    a = check_moved(a, q, 5000);
    check_intact(guard);
    check_walk({a, guard}, true);
    // The old block was freed and can be reused.
    Mark m = mark();
    void* r = hmalloc(100);
    CHECK_EQ(r, static_cast<void*>(old)) << "the block hrealloc moved away from was not freed";
    CHECK_EQ(since(m).grows, 0ul);
}

TEST(realloc, failure_leaves_block_intact) {
    Block a = alloc_filled(200);
    Block guard = alloc_filled(64);
    Block top = alloc_filled(200);
    char* brk = current_break();
    refuse_os_after(0);  // sbrk, and mmap for a stage that maps large blocks
    // a must move; top would grow by moving the break. Neither can.
    for (Block* b : {&a, &top}) {
        errno = 0;
        void* r = hrealloc(b->p, 1 << 20);
        CHECK(r == nullptr) << "hrealloc(" << b->p << ", 1 MiB) returned " << r << " while the OS refuses";
        CHECK_EQ(errno, ENOMEM);
        CHECK_EQ(current_break(), brk);
        check_intact({a, guard, top});
        check_walk({a, guard, top}, true);
    }
    refuse_os_after(-1);
    a = check_moved(a, hrealloc(a.p, 1 << 20), 1 << 20);
    top = check_moved(top, hrealloc(top.p, 1 << 20), 1 << 20);
    check_intact({a, guard, top});
    check_walk({a, guard, top}, true);
}

TEST(realloc, huge_is_enomem) {
    static const std::size_t sizes[] = {SIZE_MAX, SIZE_MAX - 15, SIZE_MAX / 2 + 1, static_cast<std::size_t>(PTRDIFF_MAX),
                                        std::size_t{1} << 40};
    Block a = alloc_filled(100);
    Block guard = alloc_filled(64);
    Block top = alloc_filled(100);
    for (Block* b : {&a, &top}) {
        for (std::size_t size : sizes) {
            Mark m = mark();
            errno = 0;
            void* r = hrealloc(b->p, size);
            Text call;
            call << "hrealloc(" << b->p << ", " << size << ")";
            check_enomem(r, call.c_str(), m);
            check_intact({a, guard, top});
            check_walk({a, guard, top}, true);
        }
    }
}

TEST(realloc, preserves_contents) {
    // Up and down through sizes, sometimes with a neighbour that forces a move.
    static const std::size_t sizes[] = {1, 17, 100, 33, 5000, 4096, 70000, 16, 200000, 3, 1000, 999, 1001, 65536};
    static Block fences[16];
    std::size_t nf = 0;
    Block b = alloc_filled(10);
    for (std::size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
        if (i % 3 == 1 && nf < 16) fences[nf++] = alloc_filled(8);
        b = check_moved(b, hrealloc(b.p, sizes[i]), sizes[i]);
        check_intact(fences, nf, "neighbouring block");
        static Block live[17];
        for (std::size_t k = 0; k < nf; ++k) live[k] = fences[k];
        live[nf] = b;
        check_disjoint(live, nf + 1);
        check_walk(live, nf + 1, true);
    }
}

TEST(realloc, not_into_foreign_memory) {
    // The last block, but the break no longer ends at it: growing must move
    // it rather than take someone else's memory.
    Block a = alloc_filled(100);
    Block other = foreign_block(4096);
    void* q = hrealloc(a.p, 1000);
    a = check_moved(a, q, 1000);
    check_intact(other, "foreign memory");
    CHECK(!overlap(a.p, a.n, other.p, other.n)) << "hrealloc grew the block over someone else's memory";
    check_walk({a}, true, {other});
}

namespace {
void* realloc_result = nullptr;
void call_hrealloc(void* p) { realloc_result = api.hrealloc(p, 100); }
void call_hrealloc_zero(void* p) { realloc_result = api.hrealloc(p, 0); }
}  // namespace

TEST(realloc, invalid_pointer_refused) {
    // As hfree: a pointer hrealloc never handed out, or one already freed, is
    // reported on stderr; the call returns NULL (or aborts) and changes nothing.
    NEED(hrealloc);
    static unsigned char buffer[4096];
    Block global{buffer, sizeof buffer, 0};
    fill(global);
    Block live = alloc_filled(64);
    Block freed = alloc_filled(64);
    Block guard = alloc_filled(64);
    hfree(freed.p);
    Mark m = mark();
    realloc_result = buffer;
    // A call that aborts is made only in the probe: the checks below hold either way.
    if (refused_call("hrealloc", call_hrealloc, buffer + 2048, {"invalid"}) == Outcome::continued) {
        CHECK(realloc_result == nullptr) << "hrealloc of a static buffer returned " << realloc_result;
    }
    check_intact(global, "the static buffer");
    realloc_result = buffer;
    if (refused_call("hrealloc", call_hrealloc, freed.p, {"free block", "freed", "double free", "invalid"}) ==
        Outcome::continued) {
        CHECK(realloc_result == nullptr) << "hrealloc of a freed block returned " << realloc_result;
    }
    CHECK_EQ(since(m).shrinks, 0ul);
    check_intact({live, guard});
    check_walk({live, guard}, true);
}

// hrealloc(p, 0) frees p, so it must check p first, and say so as hrealloc:
// a bad pointer with size 0 is refused like any other.
TEST(realloc, invalid_pointer_with_size_zero_refused) {
    NEED(hrealloc);
    static unsigned char buffer[256];
    Block global{buffer, sizeof buffer, 0};
    fill(global);
    Block live = alloc_filled(64);
    Block guard = alloc_filled(64);
    Mark m = mark();
    realloc_result = buffer;
    if (refused_call("hrealloc", call_hrealloc_zero, buffer + 64, {"invalid"}) == Outcome::continued) {
        CHECK(realloc_result == nullptr) << "hrealloc(bad pointer, 0) returned " << realloc_result;
    }
    CHECK_EQ(since(m).shrinks, 0ul);
    check_intact(global, "the static buffer");
    check_intact({live, guard});
    check_walk({live, guard}, true);
}

// ---- reallocarray ---------------------------------------------------------------------

TEST(reallocarray, overflow_is_enomem) {
    Block a = alloc_filled(100);
    Block guard = alloc_filled(64);
    static const std::size_t shapes[][2] = {
        {SIZE_MAX / 2 + 1, 2}, {std::size_t{1} << 32, std::size_t{1} << 32}, {SIZE_MAX, SIZE_MAX}};
    for (const auto& s : shapes) {
        for (void* p : {static_cast<void*>(a.p), static_cast<void*>(nullptr)}) {
            Mark m = mark();
            errno = 0;
            void* r = hreallocarray(p, s[0], s[1]);
            Text call;
            call << "hreallocarray(" << p << ", " << s[0] << ", " << s[1] << ")";
            check_enomem(r, call.c_str(), m);
            CHECK_EQ(since(m).refused, 0ul) << call << " asked sbrk for memory although the product overflows";
            check_intact({a, guard});
            check_walk({a, guard}, true);
        }
    }
}

TEST(reallocarray, resizes) {
    void* p = hreallocarray(nullptr, 10, 8);
    CHECK(p != nullptr) << "hreallocarray(NULL, 10, 8) returned NULL";
    Block b{static_cast<unsigned char*>(p), 80, 0};
    fill(b);
    Block guard = alloc_filled(16);
    static const std::size_t counts[] = {1000, 3, 5000, 1};
    for (std::size_t count : counts) {
        void* q = hreallocarray(b.p, count, 8);
        b = check_moved(b, q, count * 8);
        check_intact(guard);
        check_walk({b, guard}, true);
    }
}
