// classes.hpp: the size classes of the small blocks.
//
// A request of up to SMALL_MAX bytes is rounded up to the smallest class that
// holds it and served from a page of blocks of that one size (pages.hpp).
// Up to 128 bytes the classes are every multiple of 16, the alignment every
// block needs anyway; from there on, four classes for every doubling, so
// a block is never more than a quarter larger than what was asked for:
//
//   16 32 48 64 80 96 112 128 | 160 192 224 256 | 320 384 448 512 | 640 768 896 1024
//
// The table is constexpr and checked below, at compile time, for every
// request from 0 to SMALL_MAX: its class holds it, is a multiple of 16, and
// wastes at most 15 bytes (the rounding to 16) or less than a quarter of the
// request.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hm::classes {

// The largest small request. Above it, a header of 8 bytes costs under 1% of
// the block, and a page of 64 KiB would hold fewer than 64 blocks: the
// general heap (segregated fits) serves it with little waste.
constexpr std::size_t SMALL_MAX = 1024;

constexpr std::size_t SIZES[] = {16,  32,  48,  64,  80,  96,  112, 128, 160, 192,
                                 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024};
constexpr std::size_t COUNT = sizeof(SIZES) / sizeof(SIZES[0]);

// The class of a request: an index into SIZES, from a table of one byte for
// every 16 bytes of request (65 entries), so finding it is a shift and a load.
struct Lookup {
    std::uint8_t index[SMALL_MAX / 16 + 1];
};
constexpr Lookup make_lookup() {
    Lookup t{};
    std::size_t c = 0;
    for (std::size_t k = 0; k <= SMALL_MAX / 16; ++k) {
        while (SIZES[c] < k * 16) ++c;
        t.index[k] = static_cast<std::uint8_t>(c);
    }
    return t;
}
constexpr Lookup LOOKUP = make_lookup();

// The class of a request of `size` bytes, 0 <= size <= SMALL_MAX.
constexpr std::size_t class_of(std::size_t size) { return LOOKUP.index[(size + 15) / 16]; }

// ---- the checks --------------------------------------------------------------------

constexpr bool classes_are_sound() {
    for (std::size_t c = 0; c < COUNT; ++c) {
        if (SIZES[c] % 16 != 0) return false;                  // every block stays aligned to 16
        if (c > 0 && SIZES[c] <= SIZES[c - 1]) return false;   // increasing
    }
    return SIZES[COUNT - 1] == SMALL_MAX;
}
static_assert(classes_are_sound(), "classes: multiples of 16, increasing, the last one SMALL_MAX");

// For every request but 0 (which gets the smallest class): its class holds
// it, the class below does not (it is the smallest that does), and the waste
// is at most 15 bytes or under 25%.
constexpr bool waste_is_bounded() {
    for (std::size_t n = 1; n <= SMALL_MAX; ++n) {
        std::size_t c = class_of(n);
        std::size_t got = SIZES[c];
        if (got < n) return false;
        if (c > 0 && SIZES[c - 1] >= n) return false;
        std::size_t waste = got - n;
        if (waste > 15 && waste * 4 >= n) return false;
    }
    return class_of(0) == 0 && class_of(1) == 0;
}
static_assert(waste_is_bounded(), "classes: a request wastes at most 15 bytes or under a quarter of itself");

}  // namespace hm::classes
