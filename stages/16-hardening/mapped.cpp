// mapped.cpp: the table of large blocks that live in mappings of their own.
// Journal: JOURNAL.md#stage-09; the guard pages: JOURNAL.md#stage-16
//
// The table is an array of Mapping sorted by payload address, in pages of
// its own from os::map(), doubled with os::remap() when it is full. Finding
// a pointer is a binary search; adding or removing one moves the entries
// above it (a program holds few blocks of 128 KiB or more at once).
#include "mapped.hpp"

#include <cstdint>
#include <cstring>

#include "heap.hpp"
#include "os.hpp"

namespace hm::mapped {
namespace {

constinit Mapping* table = nullptr;
constinit std::size_t count = 0;
constinit std::size_t capacity = 0;  // entries the table's pages hold

std::size_t page_up(std::size_t n) {
    std::size_t page = os::page_size();
    return (n + page - 1) & ~(page - 1);
}

// The index of the first entry whose payload is not below `payload`.
std::size_t lower_bound(const void* payload) {
    std::size_t lo = 0, hi = count;
    while (lo < hi) {
        std::size_t mid = lo + (hi - lo) / 2;
        if (static_cast<const char*>(table[mid].payload) < static_cast<const char*>(payload)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

// Room for one more entry; false if the OS refuses the table more pages.
bool reserve_one() {
    if (count < capacity) return true;
    std::size_t old_bytes = capacity * sizeof(Mapping);
    std::size_t new_bytes = old_bytes == 0 ? page_up(sizeof(Mapping)) : 2 * old_bytes;
    void* memory = table == nullptr ? os::map(new_bytes) : os::remap(table, old_bytes, new_bytes);
    if (memory == nullptr) return false;
    table = static_cast<Mapping*>(memory);
    capacity = new_bytes / sizeof(Mapping);
    return true;
}

void insert(const Mapping& m) {
    std::size_t i = lower_bound(m.payload);
    std::memmove(&table[i + 1], &table[i], (count - i) * sizeof(Mapping));
    table[i] = m;
    ++count;
}

void erase(Mapping* m) {
    auto i = static_cast<std::size_t>(m - table);
    std::memmove(&table[i], &table[i + 1], (count - i - 1) * sizeof(Mapping));
    --count;
}

}  // namespace

Mapping* find(const void* payload) {
    std::size_t i = lower_bound(payload);
    return i < count && table[i].payload == payload ? &table[i] : nullptr;
}

void* create(std::size_t size, std::size_t alignment) {
    std::size_t page = os::page_size();
    // A page-aligned mapping serves any alignment up to a page; a larger one
    // needs room to slide the payload up to the next multiple.
    std::size_t slide = alignment > page ? alignment - page : 0;
    if (size > static_cast<std::size_t>(PTRDIFF_MAX) - slide - 2 * page) return nullptr;
    std::size_t length = page_up(size + slide) + page;  // and the guard page
    if (!reserve_one()) return nullptr;
    auto* start = static_cast<char*>(os::map(length));
    if (start == nullptr) return nullptr;
    if (!os::protect(start + length - page, page)) {
        os::unmap(start, length);  // our own whole mapping: the kernel does not refuse it
        return nullptr;
    }
    void* payload = reinterpret_cast<void*>(align_up_to(reinterpret_cast<std::uintptr_t>(start), alignment));
    insert(Mapping{payload, start, length});
    return payload;
}

bool destroy(Mapping* m) {
    if (!os::unmap(m->start, m->length)) return false;
    erase(m);
    return true;
}

void* resize(Mapping* m, std::size_t size) {
    std::size_t page = os::page_size();
    auto offset = static_cast<std::size_t>(static_cast<char*>(m->payload) - m->start);
    if (size > static_cast<std::size_t>(PTRDIFF_MAX) - offset - 2 * page) return nullptr;
    std::size_t length = page_up(offset + size) + page;  // the guard page stays last
    if (length == m->length) return m->payload;
    char* start = nullptr;
    if (length < m->length) {
        // Shrinking: the new last page becomes the guard first, then the
        // mapping is cut below it (in place); if the cut is refused, the
        // page is given back to the payload.
        char* guard = m->start + length - page;
        if (!os::protect(guard, page)) return nullptr;
        start = static_cast<char*>(os::remap(m->start, m->length, length));
        if (start == nullptr) {
            os::unprotect(guard, page);
            return nullptr;
        }
    } else {
        // Growing: mremap moves only pages of one protection that the kernel
        // has not split, so the payload's pages move without the guard, to
        // where there is room for one more page; that page becomes the new
        // guard, and the old one is unmapped. If the OS refuses the new
        // guard, the block has grown (and moved: it cannot go back) and goes
        // without one.
        char* old_guard = m->start + m->length - page;
        start = static_cast<char*>(os::remap(m->start, m->length - page, length));
        if (start == nullptr) return nullptr;
        if (start != m->start) os::unmap(old_guard, page);
        os::protect(start + length - page, page);
    }
    // The entry moves in the table if the payload moved: it is kept sorted.
    erase(m);
    insert(Mapping{start + offset, start, length});
    return start + offset;
}

void walk(hm_visit_fn visit, void* ctx) {
    for (std::size_t i = 0; i < count; ++i) {
        const Mapping& m = table[i];
        hm_block_info info{m.start, static_cast<std::size_t>(static_cast<char*>(m.payload) - m.start), m.payload,
                           usable(&m), 0};
        visit(&info, ctx);
    }
}

}  // namespace hm::mapped
