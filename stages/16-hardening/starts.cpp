// starts.cpp: the map of block starts (starts.hpp).
//
//   heap:  | prologue | hdr payload......... | hdr payload | hdr payload....... |
//   bits:    0  0  0      1  0  0  0  0  0       1  0  0      1  0  0  0  0  0
//          one bit per ALIGNMENT (16) bytes of address, from `begin`
//
// The map costs 1 bit per 16 bytes of the heap's span, 1/128 of it (a 128 KiB
// heap: 1 KiB of map, in one page), and a check costs a subtraction, a shift
// and a load: no walk, whatever the number of blocks.
#include "starts.hpp"

#include <cstdint>

#include "heap.hpp"
#include "os.hpp"

namespace hm::starts {
namespace {

using Word = std::uint64_t;
constexpr std::size_t WORD_BITS = 64;

constinit std::uintptr_t begin_at = 0;  // the address of bit 0, a multiple of ALIGNMENT
constinit Word* words = nullptr;        // the map's mapping; null until the first cover()
constinit std::size_t map_bytes = 0;    // its length, a multiple of the page size
constinit std::size_t covered = 0;      // bytes of address the map covers from begin_at

// The bit of `payload`, or SIZE_MAX if the map does not cover it.
std::size_t bit_of(const void* payload) {
    auto at = reinterpret_cast<std::uintptr_t>(payload);
    if (words == nullptr || at < begin_at || at - begin_at >= covered || at % ALIGNMENT != 0) return SIZE_MAX;
    return (at - begin_at) / ALIGNMENT;
}

}  // namespace

bool cover(const char* begin, const char* end) {
    if (words == nullptr) begin_at = reinterpret_cast<std::uintptr_t>(begin) & ~std::uintptr_t{ALIGNMENT - 1};
    if (reinterpret_cast<std::uintptr_t>(begin) < begin_at) return false;  // a break below our first region
    auto end_at = reinterpret_cast<std::uintptr_t>(end);
    if (end_at <= begin_at + covered) return true;
    std::size_t bits = (end_at - begin_at + ALIGNMENT - 1) / ALIGNMENT;
    std::size_t page = os::page_size();
    std::size_t need = (bits / 8 + page) / page * page;
    if (need < 2 * map_bytes) need = 2 * map_bytes;  // double: few remaps as the heap grows
    void* grown = words == nullptr ? os::map(need) : os::remap(words, map_bytes, need);
    if (grown == nullptr) return false;  // the old map, if any, is untouched
    words = static_cast<Word*>(grown);   // new pages come zeroed: no block starts there
    map_bytes = need;
    covered = need * 8 * ALIGNMENT;
    return true;
}

bool is_start(const void* payload) {
    std::size_t bit = bit_of(payload);
    return bit != SIZE_MAX && (words[bit / WORD_BITS] >> (bit % WORD_BITS) & 1) != 0;
}

void set(const void* payload) {
    std::size_t bit = bit_of(payload);
    words[bit / WORD_BITS] |= Word{1} << (bit % WORD_BITS);
}

void clear(const void* payload) {
    std::size_t bit = bit_of(payload);
    words[bit / WORD_BITS] &= ~(Word{1} << (bit % WORD_BITS));
}

}  // namespace hm::starts
