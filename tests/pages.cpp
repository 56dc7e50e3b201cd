// tests/pages.cpp: small blocks in pages of one size class (stage 14): no
// header per block, every size right at every class boundary, and pages that
// go back to the OS once their blocks are freed.
#include <cstring>

#include "harness.hpp"

using namespace suite;

TEST(small, no_header_per_block) {
    // Blocks of 32 bytes asked for one after the other lie side by side in a
    // page of their class, so the distance from one to the next (the median:
    // a few land elsewhere, at a page's end) is the block itself: no header,
    // no padding. A one-word header rounded up to 16 makes it 48.
    constexpr std::size_t COUNT = 10000, SIZE = 32;
    static Block blocks[COUNT];
    for (std::size_t i = 0; i < COUNT; ++i) blocks[i] = alloc_filled(SIZE);
    std::size_t stride = median_distance(blocks, COUNT);
    CHECK_EQ(stride, SIZE) << COUNT << " blocks of " << SIZE << " bytes lie " << stride
                           << " bytes apart (the median): a header or padding per block";
    if (api.malloc_usable_size != nullptr) {
        for (const Block& b : blocks) {
            CHECK_EQ(api.malloc_usable_size(b.p), SIZE) << "malloc_usable_size of a block of " << SIZE << " bytes";
        }
    }
    check_intact(blocks, COUNT);
    check_walk(blocks, COUNT, true);
    for (auto& b : blocks) hfree(b.p);
}

TEST(small, every_class_boundary) {
    // Every request from 0 to 1100 bytes, so every size class boundary of
    // every stage (a class's size - 1, its size, its size + 1) is among them,
    // whatever the table: all live at once, each written to its last usable
    // byte; then each moved across the seam to the general heap (2 KiB more)
    // and back, its contents checked both ways; then freed.
    NEED(malloc_usable_size);
    constexpr std::size_t COUNT = 1101, MORE = 2048;
    static Block blocks[COUNT];
    for (std::size_t n = 0; n < COUNT; ++n) {
        void* p = hmalloc(n);
        CHECK(p != nullptr) << "hmalloc(" << n << ")";
        std::size_t usable = api.malloc_usable_size(p);
        CHECK_GE(usable, n) << "malloc_usable_size(hmalloc(" << n << "))";
        blocks[n] = Block{static_cast<unsigned char*>(p), usable, 0};
        fill(blocks[n]);
    }
    check_disjoint(blocks, COUNT);
    check_intact(blocks, COUNT);
    check_walk(blocks, COUNT, true);
    for (std::size_t n = 0; n < COUNT; ++n) {
        Block& b = blocks[n];
        std::size_t had = b.n;
        void* q = hrealloc(b.p, had + MORE);
        CHECK(q != nullptr) << "hrealloc(" << static_cast<void*>(b.p) << ", " << had + MORE << ")";
        Block up{static_cast<unsigned char*>(q), had, b.tag};
        check_prefix_intact(up, had, "the contents after hrealloc to a larger block");
        CHECK_GE(api.malloc_usable_size(q), had + MORE) << "malloc_usable_size after hrealloc(" << had + MORE << ")";
        up.n = had + MORE;
        fill(up);
        void* r = hrealloc(q, n);
        CHECK(r != nullptr || n == 0) << "hrealloc(" << q << ", " << n << ")";
        if (n == 0) {  // hrealloc(p, 0) freed it: a fresh block of 0 bytes stands in
            r = hmalloc(0);
            CHECK(r != nullptr);
        }
        Block down{static_cast<unsigned char*>(r), n, up.tag};
        check_prefix_intact(down, n, "the contents after hrealloc back to the first size");
        std::size_t usable = api.malloc_usable_size(r);
        CHECK_GE(usable, n) << "malloc_usable_size after hrealloc back to " << n;
        b = Block{static_cast<unsigned char*>(r), usable, 0};
        fill(b);
    }
    check_disjoint(blocks, COUNT);
    check_intact(blocks, COUNT);
    check_walk(blocks, COUNT, true);
    for (auto& b : blocks) hfree(b.p);
    check_walk(nullptr, 0, true);
}

TEST(small, pages_returned_when_empty) {
    // About 5 MiB of small blocks of mixed sizes, then one more that stays
    // live: it lies above all the others on a break heap, which then cannot
    // come down; pages of size classes go back to the OS as they empty.
    // After freeing all but that one, at most half of what the blocks took
    // from the OS may still be held. (Not more blocks: the stages that walk
    // every block on every call take a while over these.)
    constexpr std::size_t COUNT = 6144;
    static Block blocks[COUNT];
    std::size_t live_at_start = mmap_double_get_stats().live_bytes;
    for (std::size_t i = 0; i < COUNT; ++i) blocks[i] = alloc_filled(1024 - (i * 37) % 256);
    Block kept = alloc_filled(1000);
    std::size_t grown = held_since(live_at_start);
    CHECK_GE(grown, COUNT * 768) << "the blocks took less from the OS than they hold";
    for (auto& b : blocks) hfree(b.p);
    std::size_t left = held_since(live_at_start);
    CHECK_LE(left, grown / 2) << "of the " << grown << " bytes the small blocks took from the OS, " << left
                              << " are still held after freeing all but one: the freed pages stayed with the allocator";
    check_intact(kept, "the block kept");
    check_walk({kept}, true);
    hfree(kept.p);
}

TEST(small, refusal_is_enomem) {
    // Small blocks while the OS refuses every call: sooner or later a new
    // page (or the heap's growth) needs memory, and hmalloc returns NULL with
    // ENOMEM, every block handed out before intact. Once the OS gives again,
    // so does hmalloc.
    constexpr std::size_t MAX = 4096, SIZE = 1000;  // 4 MiB: more than any stage keeps in reserve
    static Block blocks[MAX];
    std::size_t n = 0;
    refuse_os_after(0);
    bool refused = false;
    while (n < MAX) {
        errno = 0;
        void* p = hmalloc(SIZE);
        if (p == nullptr) {
            CHECK_EQ(errno, ENOMEM) << "errno after hmalloc(" << SIZE << ") returned NULL while the OS refuses";
            refused = true;
            break;
        }
        blocks[n] = Block{static_cast<unsigned char*>(p), SIZE, 0};
        fill(blocks[n++]);
    }
    refuse_os_after(-1);
    CHECK(refused) << n << " blocks of " << SIZE << " bytes were handed out while the OS refused every call";
    check_intact(blocks, n);
    blocks[n] = alloc_filled(SIZE);
    ++n;
    check_disjoint(blocks, n);
    check_walk(blocks, n, true);
    for (std::size_t i = 0; i < n; ++i) hfree(blocks[i].p);
}
