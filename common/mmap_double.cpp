// common/mmap_double.cpp: the test-side stand-in for mmap, munmap and
// mremap; see mmap_double.h.
//
// Not part of any lesson. Linked into the test suite, the demo and the heap
// pictures (all built with -rdynamic), its functions win over libc's for
// every library they load. Each call goes to the kernel through syscall(2)
// (never through libc's mmap, which is this file's), and the live mappings
// are kept in a fixed table, sorted by address: a munmap or mremap of part
// of a mapping cuts the entry, as the kernel cuts the mapping.
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sys/syscall.h>
#include <unistd.h>

#include "mmap_double.h"

namespace {

// ---- state ---------------------------------------------------------------------

constexpr std::size_t MAX_MAPPINGS = 1 << 16;
constinit mmap_double_mapping table[MAX_MAPPINGS] = {};
constinit std::size_t table_count = 0;
constinit mmap_double_stats stats = {};
constinit long grants_left = -1;  // negative: refuse nothing
constinit std::atomic_flag lock_flag = ATOMIC_FLAG_INIT;

class Lock {
public:
    Lock() {
        while (lock_flag.test_and_set(std::memory_order_acquire)) {
        }
    }
    ~Lock() { lock_flag.clear(std::memory_order_release); }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
};

[[noreturn]] void die(const char* what) {
    static const char prefix[] = "mmap_double: ";
    ssize_t ignored = ::write(2, prefix, sizeof prefix - 1);
    ignored = ::write(2, what, std::strlen(what));
    ignored = ::write(2, "\n", 1);
    (void)ignored;
    std::abort();
}

std::size_t page_up(std::size_t n) {
    static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return (n + page - 1) & ~(page - 1);
}

// ---- the table of live mappings (lock held) ------------------------------------------

void add(char* start, std::size_t length) {
    if (table_count == MAX_MAPPINGS) die("too many mappings (raise MAX_MAPPINGS)");
    std::size_t i = table_count;
    while (i > 0 && table[i - 1].start > start) {
        table[i] = table[i - 1];
        --i;
    }
    table[i] = mmap_double_mapping{start, length};
    ++table_count;
    stats.live_bytes += length;
    if (stats.live_bytes > stats.peak_bytes) stats.peak_bytes = stats.live_bytes;
}

// Takes [start, start + length) out of the table, cutting entries that
// overlap it. Returns how many bytes of ours it covered.
std::size_t remove(char* start, std::size_t length) {
    char* end = start + length;
    std::size_t removed = 0;
    for (std::size_t i = 0; i < table_count;) {
        char* s = table[i].start;
        char* e = s + table[i].length;
        if (e <= start || s >= end) {
            ++i;
            continue;
        }
        char* cut_from = s > start ? s : start;
        char* cut_to = e < end ? e : end;
        removed += static_cast<std::size_t>(cut_to - cut_from);
        if (s < start && e > end) {  // a hole in the middle: two entries
            table[i].length = static_cast<std::size_t>(start - s);
            stats.live_bytes -= static_cast<std::size_t>(cut_to - cut_from);
            add(end, static_cast<std::size_t>(e - end));
            stats.live_bytes -= static_cast<std::size_t>(e - end);  // add() counted it again
            return removed;
        }
        if (s < start) {
            table[i].length = static_cast<std::size_t>(start - s);
            ++i;
        } else if (e > end) {
            table[i].start = end;
            table[i].length = static_cast<std::size_t>(e - end);
            ++i;
        } else {
            std::memmove(&table[i], &table[i + 1], (table_count - i - 1) * sizeof table[0]);
            --table_count;
        }
    }
    stats.live_bytes -= removed;
    return removed;
}

bool refuse_now(std::size_t more_bytes) {
    if (grants_left == 0 || more_bytes > HM_MMAP_DOUBLE_LIMIT - stats.live_bytes ||
        stats.live_bytes > HM_MMAP_DOUBLE_LIMIT) {
        ++stats.refused;
        return true;
    }
    if (grants_left > 0) --grants_left;
    return false;
}

void* failed(long result) {
    ++stats.failed;
    errno = static_cast<int>(-result);
    return MAP_FAILED;
}

}  // namespace

extern "C" {

void* mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) {
    Lock lock;
    ++stats.calls;
    if (refuse_now(page_up(length))) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    long r = ::syscall(SYS_mmap, addr, length, prot, flags, fd, offset);
    if (r < 0 && r > -4096) return failed(r);
    auto* start = reinterpret_cast<char*>(r);
    std::size_t len = page_up(length);
    if (flags & MAP_FIXED) remove(start, len);  // it replaced whatever was there
    add(start, len);
    ++stats.maps;
    stats.mapped_bytes += len;
    return start;
}

int munmap(void* addr, size_t length) {
    Lock lock;
    ++stats.calls;
    long r = ::syscall(SYS_munmap, addr, length);
    if (r < 0) {
        failed(r);
        return -1;
    }
    stats.unmapped_bytes += remove(static_cast<char*>(addr), page_up(length));
    ++stats.unmaps;
    return 0;
}

void* mremap(void* old_address, size_t old_size, size_t new_size, int flags, ...) {
    void* new_address = nullptr;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_address = va_arg(ap, void*);
        va_end(ap);
    }
    Lock lock;
    ++stats.calls;
    std::size_t old_len = page_up(old_size), new_len = page_up(new_size);
    if (new_len > old_len && refuse_now(new_len - old_len)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    long r = ::syscall(SYS_mremap, old_address, old_size, new_size, flags, new_address);
    if (r < 0 && r > -4096) return failed(r);
    auto* start = reinterpret_cast<char*>(r);
    remove(static_cast<char*>(old_address), old_len);
    if (flags & MREMAP_FIXED) remove(start, new_len);
    add(start, new_len);
    ++stats.remaps;
    if (start != old_address) ++stats.moved;
    if (new_len > old_len) stats.mapped_bytes += new_len - old_len;
    if (new_len < old_len) stats.unmapped_bytes += old_len - new_len;
    return start;
}

mmap_double_stats mmap_double_get_stats(void) {
    Lock lock;
    return stats;
}

void mmap_double_reset_stats(void) {
    Lock lock;
    std::size_t live = stats.live_bytes;
    stats = mmap_double_stats{};
    stats.live_bytes = live;
    stats.peak_bytes = live;
}

void mmap_double_refuse_after(long grants) {
    Lock lock;
    grants_left = grants < 0 ? -1 : grants;
}

size_t mmap_double_mappings(mmap_double_mapping* out, size_t max) {
    Lock lock;
    for (std::size_t i = 0; i < table_count && i < max; ++i) out[i] = table[i];
    return table_count;
}

int mmap_double_is_mapped(const void* p, size_t n) {
    Lock lock;
    auto* a = static_cast<const char*>(p);
    for (std::size_t i = 0; i < table_count; ++i) {
        const char* s = table[i].start;
        if (a >= s && a <= s + table[i].length && n <= static_cast<std::size_t>(s + table[i].length - a)) return 1;
    }
    return 0;
}

}  // extern "C"
