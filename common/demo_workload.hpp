// common/demo_workload.hpp: the fixed workload of `make demo` and of the
// heap pictures (tools/demo.cpp, bench/heapmap.cpp).
//
// Not part of any lesson. Book keeps the workload's blocks (numbered 0 to
// DEMO_BLOCKS - 1), fills each with a byte of its own and checks it. A stage
// that lacks hrealloc or hcalloc gets the same requests done with hmalloc +
// copy + hfree (counted in `emulated`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hmalloc_api.h"

namespace hm::demo {

inline constexpr int DEMO_BLOCKS = 256;

struct Live {
    unsigned char* ptr;
    std::size_t size;
    unsigned char fill;
};

// What the callers keep while the workload runs: every block's pointer, size
// and fill byte, and the figures the demo prints.
struct Book {
    hm::test::Api api;
    Live blocks[DEMO_BLOCKS] = {};
    int results = 0;       // pointers handed out
    int misaligned = 0;    // ... of which not aligned to alignof(max_align_t)
    bool intact = true;    // every live block kept its contents
    bool zeroed = true;    // every hcalloc block came back zeroed
    std::size_t live_bytes = 0;
    std::size_t peak_live = 0;
    int emulated = 0;      // calls the stage lacks, done with hmalloc + copy + hfree
    int resized = 0;       // blocks grown ...
    int in_place = 0;      // ... of which kept their address

    void note_result(void* p) {
        ++results;
        if (reinterpret_cast<std::uintptr_t>(p) % alignof(std::max_align_t) != 0) ++misaligned;
    }
    void fill(int i, unsigned char* p, std::size_t size) {
        blocks[i] = {p, size, static_cast<unsigned char>(i * 7 + 1)};
        std::memset(p, blocks[i].fill, size);
        live_bytes += size;
        if (live_bytes > peak_live) peak_live = live_bytes;
    }
    void check(int i) {
        for (std::size_t k = 0; k < blocks[i].size; ++k) {
            if (blocks[i].ptr[k] != blocks[i].fill) {
                intact = false;
                return;
            }
        }
    }
    std::size_t size_of(int i) const { return blocks[i].size; }
    void check_all() {
        for (int i = 0; i < DEMO_BLOCKS; ++i)
            if (blocks[i].ptr != nullptr) check(i);
    }

    void allocate(int i, std::size_t size) {
        auto* p = static_cast<unsigned char*>(api.hmalloc(size));
        if (p == nullptr) return;
        note_result(p);
        fill(i, p, size);
    }
    void release(int i) {
        if (blocks[i].ptr == nullptr) return;
        check(i);
        api.hfree(blocks[i].ptr);
        live_bytes -= blocks[i].size;
        blocks[i] = {};
    }
    void resize(int i, std::size_t size) {
        check(i);
        Live old = blocks[i];
        unsigned char* p;
        if (api.hrealloc != nullptr) {
            p = static_cast<unsigned char*>(api.hrealloc(old.ptr, size));
        } else {
            ++emulated;
            p = static_cast<unsigned char*>(api.hmalloc(size));
            if (p != nullptr) {
                std::memcpy(p, old.ptr, old.size < size ? old.size : size);
                api.hfree(old.ptr);
            }
        }
        if (p == nullptr) return;
        note_result(p);
        ++resized;
        if (p == old.ptr) ++in_place;
        for (std::size_t k = 0; k < (old.size < size ? old.size : size); ++k)
            if (p[k] != old.fill) intact = false;
        live_bytes -= old.size;
        fill(i, p, size);
    }
    void allocate_zeroed(int i, std::size_t count, std::size_t size) {
        unsigned char* p;
        if (api.hcalloc != nullptr) {
            p = static_cast<unsigned char*>(api.hcalloc(count, size));
        } else {
            ++emulated;
            p = static_cast<unsigned char*>(api.hmalloc(count * size));
            if (p != nullptr) std::memset(p, 0, count * size);
        }
        if (p == nullptr) return;
        note_result(p);
        for (std::size_t k = 0; k < count * size; ++k)
            if (p[k] != 0) zeroed = false;
        fill(i, p, count * size);
    }
    // The size asked for the block whose payload is `payload` (0 if none).
    std::size_t requested(const void* payload) const {
        for (const Live& l : blocks)
            if (l.ptr == payload) return l.size;
        return 0;
    }
};

// Each phase exercises what one stage adds.
inline void run_demo_workload(Book& w) {
    // fill: 96 blocks of mixed small sizes, every 8th one larger.
    for (int i = 0; i < 96; ++i) w.allocate(i, i % 8 == 7 ? 480 : 8 + (i * 37) % 120);
    // holes: free every other block (reuse, splitting).
    for (int i = 1; i < 96; i += 2) w.release(i);
    // small: 40 blocks of 24 bytes go into the holes.
    for (int i = 96; i < 136; ++i) w.allocate(i, 24);
    // merge: free a run of neighbours, then ask for one block the size of the run (coalescing).
    for (int i = 20; i < 44; ++i) w.release(i);
    w.allocate(136, 900);
    // grow: eight blocks grow threefold (realloc in place or moved).
    for (int i = 80; i < 96; i += 2) w.resize(i, w.size_of(i) * 3);
    // zeroed: four zeroed blocks.
    for (int i = 137; i < 141; ++i) w.allocate_zeroed(i, 10, 10);
    // last: free, newest first, the zeroed blocks, the large one and the
    // second half of the first 96, the grown ones among them (trimming).
    for (int i = 140; i >= 136; --i) w.release(i);
    for (int i = 95; i >= 48; --i) w.release(i);
    w.check_all();
}

}  // namespace hm::demo
