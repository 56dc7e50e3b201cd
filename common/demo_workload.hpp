// common/demo_workload.hpp: the fixed workload of `make demo` and of the
// heap pictures (tools/demo.cpp, bench/heapmap.cpp).
//
// Not part of any lesson. `W` is the caller's bookkeeping; it needs:
//   allocate(i, size)            block i = hmalloc(size), filled
//   release(i)                   check block i and hfree it (nothing if empty)
//   resize(i, size)              check block i and hrealloc it to `size`
//   allocate_zeroed(i, n, size)  block i = hcalloc(n, size)
//   size_of(i)                   the size block i was asked for
//   check_all()                  check every live block
// Block numbers run from 0 to DEMO_BLOCKS - 1.
#pragma once

#include <cstddef>

namespace hm::demo {

inline constexpr int DEMO_BLOCKS = 256;

// Each phase exercises what one stage adds.
template <class W>
void run_demo_workload(W& w) {
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
