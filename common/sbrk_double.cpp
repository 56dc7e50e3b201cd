// common/sbrk_double.cpp: the test-side stand-in for sbrk(2); see sbrk_double.h.
//
// Not part of any lesson. Linked into the test suite and the demo (both built
// with -rdynamic), its `sbrk` wins over libc's for every library they load.
//
// The region
//   One mapping of HM_DOUBLE_REGION bytes, reserved on the first call
//   (MAP_NORESERVE: address space only, no memory is committed). Like the
//   kernel's heap mapping, only the pages below the break are accessible:
//
//   region        start = region + HM_DOUBLE_START_OFFSET
//   |             |                      break
//   v             v                      v
//   +-------------+----------------------+--------+-------------------------+
//   | not ours    | the heap (ours and   | rest of| PROT_NONE: touching it  |
//   |             | "foreign" memory)    | page   | is SIGSEGV, as above a  |
//   +-------------+----------------------+--------+ real break              |
//   |<---------- read/write pages ---------------->|                         |
//
// Rules (each chosen to behave as Linux's brk does; brk(addr) is sbrk(addr -
// break) under the same rules, returning 0 or -1):
//  - sbrk(0) returns the break; it is counted as a call and a query.
//  - sbrk(n > 0) moves the break up and returns the old one. It is refused
//    with ENOMEM when refusals are on (sbrk_double_refuse_after), when it
//    would pass a limit (sbrk_double_limit) or the end of the region.
//  - sbrk(n < 0) moves the break down and returns the old one. Whole pages
//    above the new break are given back (MADV_DONTNEED, so they read as
//    zero if the break comes back up) and made inaccessible; the bytes
//    between the new break and the end of its page keep what they held, as
//    the kernel's do. Lowering the break below the start is refused with
//    ENOMEM (the kernel refuses it too and glibc's sbrk reports ENOMEM).
//    Refusal injection applies to shrinking only when asked for
//    (sbrk_double_refuse_shrink).
//  - A refused call returns (void*)-1, sets errno and leaves the break alone.
//
// No function here calls malloc, and the state needs no constructor: the
// allocator under test may call sbrk before main() (when it is preloaded as
// the process's malloc). A spin lock keeps the counters consistent if two
// threads call in at once.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sbrk_double.h"

namespace {

// ---- state ---------------------------------------------------------------------

constinit char* region = nullptr;  // null until the first call
constinit char* region_end = nullptr;
constinit char* current_break = nullptr;
constinit char* accessible_end = nullptr;  // pages below this are read/write
constinit std::uintptr_t page_size = 0;
constinit sbrk_double_stats stats = {};
constinit long grants_left = -1;  // negative: refuse nothing
constinit bool refuse_shrinking = false;
// The pause: armed by sbrk_double_pause_next, taken by the next sbrk call.
constinit std::atomic<bool> pause_armed{false};
constinit std::atomic<bool> pause_waiting{false};
constinit std::atomic<bool> pause_released{false};
constinit const char* limit = nullptr;  // growth above this is refused; null: no limit
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

// fork() copies only the calling thread. The allocator under test calls sbrk
// only under its own lock, which fork takes first, so no thread is in here
// when a correct allocator forks. One that forks without its lock may leave
// a thread in here, holding lock_flag: the child then finds a heap that
// thread was halfway through changing. The child must show that, not hang on
// the double's lock (the kernel's brk has no lock a child could inherit).
void reset_lock_in_child() { lock_flag.clear(std::memory_order_release); }

// Registered when the program starts. pthread_atfork may call malloc, which
// may be the allocator under test and call sbrk: the double needs nothing
// from this constructor to work.
__attribute__((constructor)) void register_fork_handler() { pthread_atfork(nullptr, nullptr, reset_lock_in_child); }

[[noreturn]] void die(const char* what) {
    // No printf here: it may call malloc, which may be the allocator under test.
    static const char prefix[] = "sbrk_double: ";
    ssize_t ignored = ::write(2, prefix, sizeof prefix - 1);
    std::size_t n = 0;
    while (what[n] != '\0') ++n;
    ignored = ::write(2, what, n);
    ignored = ::write(2, "\n", 1);
    (void)ignored;
    std::abort();
}

char* page_up(char* p) {
    auto v = reinterpret_cast<std::uintptr_t>(p);
    return reinterpret_cast<char*>((v + page_size - 1) & ~(page_size - 1));
}

// Reserve the region on first use. Called with the lock held.
void ensure_region() {
    if (region != nullptr) return;
    long ps = ::sysconf(_SC_PAGESIZE);
    page_size = ps > 0 ? static_cast<std::uintptr_t>(ps) : 4096;
    // The system call itself, not libc's mmap: a program that links the mmap
    // double (common/mmap_double.cpp) must not see the region as a mapping.
    long r = ::syscall(SYS_mmap, nullptr, HM_DOUBLE_REGION, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r < 0 && r > -4096) die("cannot reserve the region (mmap failed)");
    void* mem = reinterpret_cast<void*>(r);
    region = static_cast<char*>(mem);
    region_end = region + HM_DOUBLE_REGION;
    current_break = region + HM_DOUBLE_START_OFFSET;
    accessible_end = page_up(current_break);
    if (::mprotect(region, static_cast<std::size_t>(accessible_end - region),
                   PROT_READ | PROT_WRITE) != 0) {
        die("mprotect failed");
    }
    stats.peak = static_cast<std::size_t>(current_break - region);
}

void* refuse(int error) {
    errno = error;
    return reinterpret_cast<void*>(-1);
}

// Moves the break by `increment` (lock held, region reserved). Returns the old
// break, or nullptr if the move leaves the region (errno not yet set).
char* move_break(std::intptr_t increment) {
    char* old_break = current_break;
    if (increment > 0) {
        auto up = static_cast<std::uintptr_t>(increment);
        if (up > static_cast<std::uintptr_t>(region_end - current_break)) return nullptr;
        current_break += up;
        char* new_end = page_up(current_break);
        if (new_end > accessible_end) {
            if (::mprotect(accessible_end, static_cast<std::size_t>(new_end - accessible_end),
                           PROT_READ | PROT_WRITE) != 0) {
                die("mprotect failed while growing");
            }
            accessible_end = new_end;
        }
    } else if (increment < 0) {
        // -increment computed without overflow, even for INTPTR_MIN.
        std::uintptr_t down = 0 - static_cast<std::uintptr_t>(increment);
        char* start = region + HM_DOUBLE_START_OFFSET;
        if (down > static_cast<std::uintptr_t>(current_break - start)) return nullptr;
        current_break -= down;
        char* new_end = page_up(current_break);
        if (new_end < accessible_end) {
            auto len = static_cast<std::size_t>(accessible_end - new_end);
            if (::madvise(new_end, len, MADV_DONTNEED) != 0 ||
                ::mprotect(new_end, len, PROT_NONE) != 0) {
                die("madvise/mprotect failed while shrinking");
            }
            accessible_end = new_end;
        }
    }
    auto height = static_cast<std::size_t>(current_break - region);
    if (height > stats.peak) stats.peak = height;
    return old_break;
}

// The pause, taken by the next sbrk or brk call (before the lock).
void maybe_pause() {
    if (pause_armed.load(std::memory_order_acquire) && pause_armed.exchange(false, std::memory_order_acq_rel)) {
        pause_waiting.store(true, std::memory_order_release);
        while (!pause_released.load(std::memory_order_acquire)) ::usleep(200);
        pause_waiting.store(false, std::memory_order_release);
    }
}

// One call by the allocator, through sbrk or brk (lock held, region
// reserved): moves the break by `increment` with every rule above.
void* allocator_call(intptr_t increment) {
    ++stats.calls;
    if (increment == 0) {
        ++stats.queries;
        return current_break;
    }
    bool over_limit = increment > 0 && limit != nullptr &&
                      (limit < current_break ||
                       static_cast<std::uintptr_t>(increment) > static_cast<std::uintptr_t>(limit - current_break));
    if (increment > 0 && (grants_left == 0 || over_limit)) {
        ++stats.refused;
        return refuse(ENOMEM);
    }
    if (increment < 0 && refuse_shrinking) {
        ++stats.refused;
        return refuse(ENOMEM);
    }
    char* old_break = move_break(increment);
    if (old_break == nullptr) {
        ++stats.refused;
        return refuse(ENOMEM);
    }
    if (increment > 0) {
        ++stats.grows;
        stats.grown_bytes += static_cast<std::size_t>(increment);
        if (grants_left > 0) --grants_left;
    } else {
        ++stats.shrinks;
        stats.shrunk_bytes += static_cast<std::size_t>(0 - static_cast<std::uintptr_t>(increment));
    }
    return old_break;
}

}  // namespace

extern "C" {

void* sbrk(intptr_t increment) {
    maybe_pause();
    Lock lock;
    ensure_region();
    return allocator_call(increment);
}

// brk(addr): the break becomes addr. The same rules as sbrk(addr - break);
// 0 on success, -1 with ENOMEM (as glibc's brk) when refused or outside the
// region (an address below the heap's start included).
int brk(void* addr) {
    maybe_pause();
    Lock lock;
    ensure_region();
    auto* target = static_cast<char*>(addr);
    ++stats.brk_calls;
    if (target < region + HM_DOUBLE_START_OFFSET || target > region_end) {
        ++stats.calls;
        ++stats.refused;
        errno = ENOMEM;
        return -1;
    }
    // The difference fits an intptr_t: both ends lie inside the region.
    intptr_t increment = target - current_break;
    return allocator_call(increment) == reinterpret_cast<void*>(-1) ? -1 : 0;
}

sbrk_double_stats sbrk_double_get_stats(void) {
    Lock lock;
    ensure_region();
    return stats;
}

void sbrk_double_reset_stats(void) {
    Lock lock;
    ensure_region();
    stats = sbrk_double_stats{};
    stats.peak = static_cast<std::size_t>(current_break - region);
}

void sbrk_double_refuse_after(long grants) {
    Lock lock;
    grants_left = grants < 0 ? -1 : grants;
}

void sbrk_double_refuse_shrink(int on) {
    Lock lock;
    refuse_shrinking = on != 0;
}

void sbrk_double_pause_next(void) {
    pause_released.store(false, std::memory_order_release);
    pause_armed.store(true, std::memory_order_release);
}

int sbrk_double_paused(void) { return pause_waiting.load(std::memory_order_acquire) ? 1 : 0; }

void sbrk_double_release(void) {
    pause_armed.store(false, std::memory_order_release);
    pause_released.store(true, std::memory_order_release);
}

void sbrk_double_limit(const char* highest) {
    Lock lock;
    limit = highest;
}

char* sbrk_double_region(void) {
    Lock lock;
    ensure_region();
    return region;
}

char* sbrk_double_break(void) {
    Lock lock;
    ensure_region();
    return current_break;
}

// Same rules as sbrk, but not counted and never refused on purpose: this is
// someone else's memory, not the allocator's call.
void* sbrk_double_foreign(intptr_t increment) {
    Lock lock;
    ensure_region();
    char* old_break = move_break(increment);
    return old_break == nullptr ? refuse(ENOMEM) : old_break;
}

}  // extern "C"
