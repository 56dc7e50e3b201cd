// tests/free.cpp: hfree of NULL, and of pointers it must refuse.
//
// A refused hfree writes a line naming the problem and the pointer to stderr
// and either changes nothing or aborts (refused_free() in harness.hpp accepts
// both; a call that aborts is made only in a probe process, so the test goes
// on to its next bad pointer and its checks either way). "Changes nothing" is checked from outside: no sbrk shrink, every
// live block's contents intact, hwalk unchanged, and later allocations do not
// land on live blocks.
#include <cstring>
#include <sys/mman.h>
#include <sys/wait.h>

#include "harness.hpp"

using namespace suite;

namespace {

// The heap after a refused call: as it was, and still able to allocate
// without handing out a live block again.
void check_heap_unchanged(const Block* live, std::size_t n, const Mark& m) {
    Since s = since(m);
    CHECK_EQ(s.shrinks, 0ul) << "a refused hfree lowered the break";
    CHECK_EQ(current_break(), m.brk) << "a refused hfree moved the break";
    check_intact(live, n, "live block");
    check_walk(live, n, true);
    // Sizes of the live blocks and a few more: none may land on a live block.
    static Block all[256];
    std::size_t count = 0;
    for (std::size_t i = 0; i < n && count < 128; ++i) all[count++] = live[i];
    for (std::size_t i = 0; i < n && count < 200; ++i) all[count++] = alloc_filled(live[i].n);
    for (std::size_t size : {0, 1, 16, 64, 100, 1000}) all[count++] = alloc_filled(size);
    check_disjoint(all, count);
    check_intact(all, count);
    check_walk(all, count, true);
}
void check_heap_unchanged(std::initializer_list<Block> live, const Mark& m) {
    static Block copy[16];
    std::size_t n = 0;
    for (const Block& b : live) copy[n++] = b;
    check_heap_unchanged(copy, n, m);
}

}  // namespace

TEST(free, null_is_noop) {
    Block a = alloc_filled(50);
    Block b = alloc_filled(70);
    hfree(b.p);
    static Walk before;
    bool walks = api.hwalk != nullptr;  // an allocator without hwalk (make check LIB=...): no walk to compare
    if (walks) walk(before);
    Mark m = mark();
    static StderrCapture cap;
    cap.begin();
    hfree(nullptr);
    cap.end();
    CHECK(cap.empty()) << "hfree(NULL) wrote to stderr: " << cap.text();
    CHECK_EQ(since(m).calls, 0ul) << "hfree(NULL) called sbrk";
    const Walk& after = walks ? walk_now() : before;
    CHECK_EQ(after.count, before.count) << "hfree(NULL) changed the number of blocks";
    for (std::size_t i = 0; i < after.count; ++i) {
        CHECK(after.blocks[i].payload == before.blocks[i].payload && after.blocks[i].size == before.blocks[i].size &&
              after.blocks[i].free == before.blocks[i].free)
            << "hfree(NULL) changed block " << i << " (" << before.blocks[i].payload << ")";
    }
    check_intact(a);
}

TEST(free, invalid_pointer_refused) {
    static unsigned char buffer[8192];
    Block global{buffer, sizeof buffer, 0};
    fill(global);
    unsigned char stack[1024];
    Block local{stack, sizeof stack, 0};
    fill(local);
    static Block live[3];
    for (auto& b : live) b = alloc_filled(64);
    Mark m = mark();
    // The middle of a static buffer, then of a stack array: 16-aligned, as a
    // payload would be, so only a real check can tell them apart.
    refused_free(buffer + 4096, {"invalid"});
    check_intact(global, "the static buffer");
    refused_free(stack + 512, {"invalid"});
    check_intact(local, "the stack array");
    check_heap_unchanged(live, 3, m);
}

TEST(free, interior_pointer_refused) {
    static Block live[3];
    for (auto& b : live) b = alloc_filled(256);
    Mark m = mark();
    // Every offset, also where the stage aborts: the probe runs in a child, so
    // the 16-aligned ones (which only a check of block starts refuses) are
    // tried after the unaligned one too.
    for (std::size_t offset : {1, 16, 32, 128, 255}) {
        refused_free(live[1].p + offset, {"invalid", "interior"});
        check_intact(live, 3, "live block");
    }
    check_heap_unchanged(live, 3, m);
    // The block itself can still be freed, once.
    static StderrCapture cap;
    cap.begin();
    hfree(live[1].p);
    cap.end();
    CHECK(cap.empty()) << "hfree of a live block complained: " << cap.text();
}

TEST(free, forged_header_refused) {
    // A pointer into a block, with the bytes in front of it copied from the
    // header of a real block of the same size: a perfect forgery, whatever the
    // stage's layout. The block it points into was two blocks once (merged,
    // where the stage coalesces), and the forged pointer is where the second
    // one began: a stage that remembers block starts must have forgotten it.
    constexpr std::size_t SIZE = 64, FORGE = 32;
    Block a = alloc_filled(SIZE);
    Block b = alloc_filled(SIZE);
    Block model = alloc_filled(SIZE);
    CHECK(b.p > a.p) << "two blocks asked for one after the other went downwards";
    auto apart = static_cast<std::size_t>(b.p - a.p);
    hfree(a.p);
    hfree(b.p);
    Block big = alloc_filled(apart + SIZE);
    unsigned char* forged = big.p + apart;
    static unsigned char saved[FORGE];
    std::memcpy(saved, forged - FORGE, FORGE);
    std::memcpy(forged - FORGE, model.p - FORGE, FORGE);
    refused_free(forged, {"invalid", "interior"});
    std::memcpy(forged - FORGE, saved, FORGE);
    check_intact(big);
    check_intact(model);
    check_walk({big, model}, true);
    hfree(big.p);
    hfree(model.p);
}

TEST(free, foreign_pointer_refused) {
    // Memory someone else took from sbrk between two of our blocks, zeroed:
    // a stage that trusts whatever lies in front of a pointer sees a
    // plausible header there.
    Block below = alloc_filled(64);
    Block other = foreign_block(8192);
    std::memset(other.p, 0, other.n);
    Block above = alloc_filled(64);
    Mark m = mark();
    auto at = reinterpret_cast<std::uintptr_t>(other.p + 4096);
    auto* p = reinterpret_cast<unsigned char*>(at & ~std::uintptr_t{15});
    refused_free(p, {"invalid"});
    check_zero(other.p, other.n, "the foreign memory");
    check_heap_unchanged({below, above}, m);
}

TEST(free, double_free_refused) {
    static Block live[2];
    Block victim = alloc_filled(128);
    live[0] = alloc_filled(128);
    live[1] = alloc_filled(64);  // above the victim: no trimming
    hfree(victim.p);
    Mark m = mark();
    refused_free(victim.p, {"double free"});
    check_heap_unchanged(live, 2, m);
}

TEST(free, double_free_after_coalescing_refused) {
    // x1 x2 g1 y1 y2 g2: free x1 then x2 (x2 merges into x1, on its left),
    // y2 then y1 (y1 absorbs y2, on its right), then free each again.
    Block x1 = alloc_filled(128), x2 = alloc_filled(128), g1 = alloc_filled(64);
    Block y1 = alloc_filled(128), y2 = alloc_filled(128), g2 = alloc_filled(64);
    hfree(x1.p);
    hfree(x2.p);
    hfree(y2.p);
    hfree(y1.p);
    Mark m = mark();
    for (unsigned char* p : {x2.p, y2.p, x1.p, y1.p}) {
        refused_free(p, {"double free", "invalid"});
        check_intact({g1, g2}, "guard block");
    }
    check_heap_unchanged({g1, g2}, m);
}

TEST(free, double_free_after_trim_refused) {
    // The freed blocks were at the top, far more than any stage keeps there:
    // a stage that trims has given their memory back, and a second hfree
    // must not touch it.
    Block keep = alloc_filled(64);
    static Block top[32];  // 2 MiB
    alloc_pieces(top, 32);
    free_pieces_top_down(top, 32);
    Mark m = mark();
    for (unsigned char* p : {top[31].p, top[0].p}) {
        refused_free(p, {"double free", "invalid"});
    }
    check_heap_unchanged(&keep, 1, m);
}

// free leaves errno alone (POSIX 2024, and glibc), also when the OS call
// inside it fails: here the OS refuses to lower the break. Below b lie three
// blocks of 100 KiB (each below every stage's mmap threshold), freed first:
// with b they make a free top larger than every stage's trim threshold
// (256 KiB), so freeing b makes a stage that trims at all try to.
TEST(free, keeps_errno_when_os_refuses) {
    Block keep = alloc_filled(64);
    Block a = alloc_filled(5000);
    static Block middle[3];
    for (Block& x : middle) x = alloc_filled(100 << 10);
    Block b = alloc_filled(5000);
    for (Block& x : middle) hfree(x.p);  // not the top: b lies above them
    sbrk_double_refuse_shrink(1);
    Mark m = mark();
    errno = 4321;
    hfree(b.p);  // the top block: a stage that trims tries to lower the break
    int after = errno;
    CHECK_EQ(after, 4321) << "hfree changed errno (the OS had refused to lower the break)";
    if (api.free != nullptr) {
        errno = 4321;
        api.free(a.p);
        after = errno;
        CHECK_EQ(after, 4321) << "free changed errno (the OS had refused to lower the break)";
    } else {
        hfree(a.p);
    }
    sbrk_double_refuse_shrink(0);
    CHECK_EQ(since(m).shrinks, 0ul);
    // The refused trim left the heap as it was: the blocks are free, still ours.
    check_intact(keep);
    check_walk({keep}, true);
}

// ---- what a free looks at (stage 11) -------------------------------------------------

TEST(free, reads_only_its_neighbours) {
    // Checking a pointer and merging a block need the block and its two
    // neighbours, nothing else. To see that from outside, whole pages in the
    // middle of a run of other live blocks are made unreadable, and a child
    // process frees a block above them (and asks malloc_usable_size of one):
    // a stage that walks the heap to check the pointer faults on those pages.
    // Blocks above 1 KiB: on the break heap in every stage (from stage 14 on,
    // smaller ones are in pages, where a free reads the page's record).
    constexpr std::size_t RUN = 64, SIZE = 1100;
    static Block run[RUN];
    for (auto& b : run) b = alloc_filled(SIZE);
    Block spacer = alloc_filled(SIZE);
    Block target = alloc_filled(SIZE);
    // The pages to hide: wholly inside the run, between the end of its lowest
    // block and the header of its highest, so no neighbour of the target can
    // lie in them (it would be the run's first or last block).
    const Walk& w = walk_now();
    const BlockInfo* lowest = nullptr;
    const BlockInfo* highest = nullptr;
    for (const auto& b : run) {
        const BlockInfo* info = w.find(b.p);
        CHECK(info != nullptr) << "hwalk does not show the run's block " << static_cast<void*>(b.p);
        if (lowest == nullptr || info->payload < lowest->payload) lowest = info;
        if (highest == nullptr || info->payload > highest->payload) highest = info;
    }
    auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    auto from = (reinterpret_cast<std::uintptr_t>(lowest->payload) + lowest->size + page - 1) / page * page;
    auto to = reinterpret_cast<std::uintptr_t>(highest->header) / page * page;
    CHECK_GE(to, from + page) << "the run of " << RUN << " blocks of " << SIZE << " bytes covers no whole page";
    for (const Block& b : {spacer, target}) {
        CHECK(b.p > static_cast<unsigned char*>(highest->payload))
            << "the block " << static_cast<void*>(b.p) << " asked for after the run lies below its top";
    }
    void* hidden = reinterpret_cast<void*>(from);
    std::size_t hidden_bytes = to - from;
    pid_t pid = ::fork();
    CHECK(pid >= 0) << "fork failed";
    if (pid == 0) {
        ::alarm(5);
        if (::mprotect(hidden, hidden_bytes, PROT_NONE) != 0) _exit(3);
        if (api.malloc_usable_size != nullptr) api.malloc_usable_size(spacer.p);
        hfree(target.p);
        _exit(0);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    CHECK(!WIFEXITED(status) || WEXITSTATUS(status) != 3) << "mprotect refused to hide the run's pages";
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "hfree or malloc_usable_size of one block touched the pages of other blocks (" << hidden_bytes
        << " bytes made unreadable): it looks at more than the block's neighbours (child status " << status << ")";
    hfree(target.p);
    check_intact(run, RUN);
    check_intact({spacer});
    for (auto& b : run) hfree(b.p);
    hfree(spacer.p);
}
