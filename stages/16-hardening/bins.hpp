// bins.hpp: which bin a free block goes in, by its size.
// Journal: JOURNAL.md#stage-13
//
// The free blocks are kept in COUNT lists, the bins, each for a range of
// block sizes (header included). The ranges do not overlap and grow with the
// bin's number, so every block in a higher bin is larger than every block in
// a lower one:
//
//   bins 0-63     exact: bin i holds blocks of exactly 16 * i bytes (32 to
//                 1008; bins 0 and 1 stay empty, no block is under MIN_BLOCK)
//   bins 64-127   ranges: each power of two from 1 KiB on is cut into four
//                 bins of equal width (1024-1279, 1280-1535, 1536-1791,
//                 1792-2047, 2048-2559, ...), up to 64 MiB
//   bin 127       the last: 56 MiB and more
//
// Every block in an exact bin fits a request of that bin's size, so its
// head is a best fit at once. A range bin holds blocks that differ by up to a
// quarter of their size, so heap.cpp keeps it sorted, smallest first.
#pragma once

#include <bit>
#include <cstddef>

#include "heap.hpp"

namespace hm::bins {

// Block sizes below this have an exact bin each.
constexpr std::size_t EXACT_LIMIT = 1024;
constexpr std::size_t EXACT_BINS = EXACT_LIMIT / ALIGNMENT;
static_assert(EXACT_BINS == 64 && is_power_of_two(EXACT_LIMIT));

// Each power of two from EXACT_LIMIT on is cut into 2^SPLIT_BITS range bins.
constexpr unsigned SPLIT_BITS = 2;
constexpr std::size_t SPLITS = std::size_t{1} << SPLIT_BITS;
constexpr unsigned FIRST_POWER = std::bit_width(EXACT_LIMIT) - 1;  // 10

// All the bins: two 64-bit words of the non-empty bitmap.
constexpr std::size_t COUNT = 128;
constexpr std::size_t WORD_BITS = 64;
constexpr std::size_t WORDS = COUNT / WORD_BITS;
static_assert(COUNT % WORD_BITS == 0);

constexpr bool is_exact(std::size_t bin) { return bin < EXACT_BINS; }

// The bin of a free block of `size` bytes (a multiple of ALIGNMENT, at least MIN_BLOCK).
constexpr std::size_t index_of(std::size_t size) {
    if (size < EXACT_LIMIT) return size / ALIGNMENT;
    unsigned power = static_cast<unsigned>(std::bit_width(size)) - 1;
    std::size_t part = (size >> (power - SPLIT_BITS)) & (SPLITS - 1);
    std::size_t bin = EXACT_BINS + (power - FIRST_POWER) * SPLITS + part;
    return bin < COUNT ? bin : COUNT - 1;
}

// The smallest block size bin `bin` holds.
constexpr std::size_t lowest_size(std::size_t bin) {
    if (is_exact(bin)) return bin * ALIGNMENT;
    std::size_t range = bin - EXACT_BINS;
    unsigned power = FIRST_POWER + static_cast<unsigned>(range / SPLITS);
    return (std::size_t{1} << power) + (range % SPLITS) * (std::size_t{1} << (power - SPLIT_BITS));
}

static_assert(index_of(MIN_BLOCK) == 2 && index_of(1008) == 63);
static_assert(index_of(1024) == 64 && index_of(1279) == 64 && index_of(1280) == 65 && index_of(2047) == 67);
static_assert(index_of(2048) == 68 && index_of(std::size_t{128} << 10) == 92);
static_assert(lowest_size(127) == (std::size_t{56} << 20) && index_of(std::size_t{56} << 20) == 127);
static_assert(index_of(std::size_t{1} << 40) == 127 && index_of(~std::size_t{0} & ~FLAGS) == 127);
static_assert(lowest_size(64) == 1024 && lowest_size(65) == 1280 && lowest_size(68) == 2048);
static_assert(index_of(lowest_size(100)) == 100 && index_of(lowest_size(101) - ALIGNMENT) == 100);

}  // namespace hm::bins
