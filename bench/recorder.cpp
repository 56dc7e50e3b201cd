// bench/recorder.cpp: records what a program asks of malloc (build/bench/recorder.so).
//
// Not part of any lesson. Preloaded into a program, it defines malloc and its
// family, hands every call on to glibc's own functions (__libc_malloc and
// friends: no dlsym, which itself calls malloc), and writes what was asked
// to a trace file (format: bench/trace_format.hpp):
//
//   HM_TRACE=/tmp/run.%p.hmt LD_PRELOAD=build/bench/recorder.so python3 x.py
//
// In HM_TRACE, %p is the process id, %e the program's name, %% a percent
// sign. A path with %p gives every process its own file (a compiler driver
// and the compiler it runs, a program and its forked children). A path
// without %p is opened only if it does not exist yet: the first process
// records, later ones (programs it runs, forked children) do not overwrite it.
//
// Rules it keeps:
//  - It never calls malloc itself: the address-to-id table, the list of free
//    ids and the output buffer are mmap'd, the file is written with write(2).
//  - One lock serialises the table and the buffer, so threads may allocate
//    at will; each record names the thread that made it (THREAD records).
//  - fork: the buffer is flushed before fork. A child with its own file (%p)
//    starts it with the blocks it inherited (as MALLOC or ALIGNED records, so
//    the trace stands alone); without %p the child stops recording.
//  - Recording starts in the library's constructor (before the program's
//    own). Calls before that, or during it, go to glibc unrecorded; a later
//    free of such a block is counted as "unknown", a realloc of one is
//    recorded as a new MALLOC.
//  - The buffer (256 KiB) is flushed when full and at exit. A process that
//    ends without exit() (_exit, a signal), or replaces itself with another
//    program (exec), loses its last buffer; its trace then has no END
//    record, which the replayer reports. With HM_TRACE_SYNC=1 in the
//    environment every call is written at once (one write(2) a call, slower):
//    a process killed by a signal (git when `head` stops reading its pipe)
//    then loses nothing but its END record (`make heapmap CMD=...` sets it).
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "trace_format.hpp"

extern "C" {
void* __libc_malloc(size_t size);
void __libc_free(void* ptr);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* ptr, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void* __libc_valloc(size_t size);
void* __libc_pvalloc(size_t size);
}

namespace {

using namespace hm::trace;

// ---- state --------------------------------------------------------------------

enum State : int { UNINIT, ON, OFF };

constexpr std::size_t BUFFER_BYTES = 256 * 1024;
constexpr std::size_t PATH_BYTES = 4096;
constinit bool sync_writes = false;  // HM_TRACE_SYNC=1: flush after every call

// One live block: where it is, its id and its size (for a forked child's
// first records), and its alignment if it came from the memalign family.
struct Entry {
    std::uintptr_t addr;  // 0: empty slot
    std::uint64_t size;
    std::uint32_t id;
    std::uint32_t align;  // 0: not from the memalign family
};

constinit pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
constinit std::atomic<int> state{UNINIT};
constinit int out_fd = -1;
constinit char path_pattern[PATH_BYTES] = {};
constinit char program_name[32] = {};
constinit bool path_has_pid = false;

constinit std::uint8_t* buffer = nullptr;
constinit std::size_t buffered = 0;

constinit Entry* table = nullptr;  // open addressing, linear probing
constinit std::size_t table_capacity = 0;  // a power of two
constinit std::size_t table_count = 0;

constinit std::uint32_t* free_ids = nullptr;  // a stack of ids to reuse
constinit std::size_t free_ids_count = 0;
constinit std::size_t free_ids_capacity = 0;
constinit std::uint32_t next_id = 0;

constinit std::uint64_t records = 0;
constinit std::uint64_t unknown_calls = 0;
constinit std::atomic<std::uint32_t> threads_seen{0};
constinit std::uint32_t last_thread = 0;  // thread of the last record; 0: none yet

__attribute__((tls_model("initial-exec"))) constinit thread_local std::uint32_t this_thread = 0;

// ---- plumbing -------------------------------------------------------------------

void* map_bytes(std::size_t bytes) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
}

void say(const char* a, const char* b = "", const char* c = "") {
    const char* parts[] = {"hm-recorder: ", a, b, c, "\n"};
    for (const char* s : parts) {
        ssize_t ignored = ::write(STDERR_FILENO, s, std::strlen(s));
        (void)ignored;
    }
}

// Lock held from here on, unless said otherwise.

void stop_recording() {
    state.store(OFF, std::memory_order_release);
    if (out_fd >= 0) ::close(out_fd);
    out_fd = -1;
}

void flush() {
    std::size_t done = 0;
    while (done < buffered && out_fd >= 0) {
        ssize_t n = ::write(out_fd, buffer + done, buffered - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            say("cannot write the trace; recording stops");
            stop_recording();
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    buffered = 0;
}

void emit(Op op, std::uint64_t a = 0, std::uint64_t b = 0, std::uint64_t c = 0, std::uint64_t d = 0) {
    if (buffered + 2 * MAX_RECORD > BUFFER_BYTES) flush();
    if (this_thread == 0) this_thread = threads_seen.fetch_add(1, std::memory_order_relaxed) + 1;
    if (this_thread != last_thread) {
        buffered += put_record(buffer + buffered, OP_THREAD, this_thread, 0, 0, 0, 1);
        last_thread = this_thread;
    }
    buffered += put_record(buffer + buffered, op, a, b, c, d, numbers_of(op));
    if (op != OP_END && op != OP_THREAD) ++records;
    if (sync_writes) flush();
}

// ---- the address-to-id table ------------------------------------------------------

std::size_t slot_of(std::uintptr_t addr) {
    std::uint64_t h = (addr >> 4) * 0x9E3779B97F4A7C15ull;
    return static_cast<std::size_t>(h >> 20) & (table_capacity - 1);
}

void insert_entry(const Entry& e) {
    std::size_t i = slot_of(e.addr);
    while (table[i].addr != 0) i = (i + 1) & (table_capacity - 1);
    table[i] = e;
    ++table_count;
}

bool grow_table() {
    std::size_t new_capacity = table_capacity == 0 ? (1u << 16) : table_capacity * 2;
    auto* fresh = static_cast<Entry*>(map_bytes(new_capacity * sizeof(Entry)));
    if (fresh == nullptr) return false;
    Entry* old = table;
    std::size_t old_capacity = table_capacity;
    table = fresh;
    table_capacity = new_capacity;
    table_count = 0;
    for (std::size_t i = 0; i < old_capacity; ++i)
        if (old[i].addr != 0) insert_entry(old[i]);
    if (old != nullptr) ::munmap(old, old_capacity * sizeof(Entry));
    return true;
}

// Removes the entry for `addr` into `*out`; false if there is none.
bool take_entry(std::uintptr_t addr, Entry* out) {
    if (table_capacity == 0) return false;
    std::size_t mask = table_capacity - 1;
    std::size_t i = slot_of(addr);
    while (table[i].addr != addr) {
        if (table[i].addr == 0) return false;
        i = (i + 1) & mask;
    }
    *out = table[i];
    // Backward-shift deletion: later entries of the probe run move up, so no
    // tombstones are needed.
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask; table[j].addr != 0; j = (j + 1) & mask) {
        std::size_t home = slot_of(table[j].addr);
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            table[hole] = table[j];
            hole = j;
        }
    }
    table[hole].addr = 0;
    --table_count;
    return true;
}

bool new_id(std::uint32_t* id) {
    if (free_ids_count > 0) {
        *id = free_ids[--free_ids_count];
        return true;
    }
    if (next_id == UINT32_MAX) return false;
    *id = next_id++;
    return true;
}

void release_id(std::uint32_t id) {
    if (free_ids_count == free_ids_capacity) {
        std::size_t bigger = free_ids_capacity == 0 ? (1u << 16) : free_ids_capacity * 2;
        void* p = free_ids == nullptr
                      ? map_bytes(bigger * sizeof(std::uint32_t))
                      : ::mremap(free_ids, free_ids_capacity * sizeof(std::uint32_t),
                                 bigger * sizeof(std::uint32_t), MREMAP_MAYMOVE);
        if (p == nullptr || p == MAP_FAILED) return;  // the id is simply not reused
        free_ids = static_cast<std::uint32_t*>(p);
        free_ids_capacity = bigger;
    }
    free_ids[free_ids_count++] = id;
}

// A block is born: give it an id and record it. If the table cannot grow,
// recording stops.
void born(void* ptr, Op op, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0,
          std::uint32_t align = 0, std::uint64_t size = 0) {
    if (state.load(std::memory_order_acquire) != ON) return;
    if (table_count * 2 >= table_capacity && !grow_table()) {
        say("out of memory for the block table; recording stops");
        stop_recording();
        return;
    }
    std::uint32_t id = 0;
    if (!new_id(&id)) {
        stop_recording();
        return;
    }
    insert_entry(Entry{reinterpret_cast<std::uintptr_t>(ptr), size, id, align});
    if (op == OP_MALLOC) {
        emit(OP_MALLOC, id, a);
    } else if (op == OP_CALLOC) {
        emit(OP_CALLOC, id, a, b);
    } else {
        emit(OP_ALIGNED, id, a, b, c);
    }
}

class Locked {
public:
    Locked() { pthread_mutex_lock(&lock); }
    ~Locked() { pthread_mutex_unlock(&lock); }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;
};

bool recording() { return state.load(std::memory_order_acquire) == ON; }

// ---- starting a file ------------------------------------------------------------

void append_text(char* out, std::size_t* n, const char* s) {
    while (*s != '\0' && *n + 1 < PATH_BYTES) out[(*n)++] = *s++;
}

void append_number(char* out, std::size_t* n, std::uint64_t v) {
    char digits[24];
    int k = 0;
    do {
        digits[k++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (k > 0 && *n + 1 < PATH_BYTES) out[(*n)++] = digits[--k];
}

// The pattern with %p, %e and %% expanded for this process.
void expand_path(char* out) {
    std::size_t n = 0;
    for (const char* s = path_pattern; *s != '\0'; ++s) {
        if (s[0] == '%' && s[1] == 'p') {
            append_number(out, &n, static_cast<std::uint64_t>(::getpid()));
            ++s;
        } else if (s[0] == '%' && s[1] == 'e') {
            append_text(out, &n, program_name);
            ++s;
        } else if (s[0] == '%' && s[1] == '%') {
            append_text(out, &n, "%");
            ++s;
        } else if (n + 1 < PATH_BYTES) {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
}

// Opens this process's file and writes its header. False if it cannot.
bool open_trace(std::uint32_t flags) {
    char path[PATH_BYTES];
    expand_path(path);
    int how = O_WRONLY | O_CREAT | O_CLOEXEC | (path_has_pid ? O_TRUNC : O_EXCL);
    out_fd = ::open(path, how, 0644);
    if (out_fd < 0) {
        if (errno == EEXIST) {
            say("not recording: ", path, " exists (remove it, or put %p in HM_TRACE)");
        } else {
            say("not recording: cannot create ", path);
        }
        return false;
    }
    // The header is written at once, so even a process that never flushes
    // (one that execs another program) leaves a valid, if empty, trace.
    FileHeader h = make_header(flags, static_cast<std::uint32_t>(::getpid()),
                               static_cast<std::uint32_t>(::getppid()), program_name);
    std::memcpy(buffer, &h, sizeof h);
    buffered = sizeof h;
    last_thread = 0;
    flush();
    return out_fd >= 0;
}

// ---- fork -----------------------------------------------------------------------

void before_fork() {
    pthread_mutex_lock(&lock);
    if (recording()) flush();
}

void after_fork_in_parent() { pthread_mutex_unlock(&lock); }

void after_fork_in_child() {
    if (recording()) {
        // The parent's file is the parent's: drop our copy of its descriptor.
        ::close(out_fd);
        out_fd = -1;
        records = 0;
        unknown_calls = 0;
        if (!path_has_pid || !open_trace(FLAG_FORKED_CHILD)) {
            state.store(OFF, std::memory_order_release);
        } else {
            // The inherited blocks come first, so the child's trace stands alone.
            for (std::size_t i = 0; i < table_capacity; ++i) {
                const Entry& e = table[i];
                if (e.addr == 0) continue;
                if (e.align != 0) {
                    emit(OP_ALIGNED, e.id, KIND_MEMALIGN, e.align, e.size);
                } else {
                    emit(OP_MALLOC, e.id, e.size);
                }
            }
        }
    }
    pthread_mutex_unlock(&lock);
}

// ---- start and end ----------------------------------------------------------------

// glibc passes argc, argv and envp to constructors; reading envp directly
// needs nothing from libc that might not be ready.
__attribute__((constructor)) void start_recording(int argc, char** argv, char** envp) {
    const char* pattern = nullptr;
    for (char** e = envp; e != nullptr && *e != nullptr; ++e)
        if (std::strncmp(*e, "HM_TRACE=", 9) == 0) pattern = *e + 9;
        else if (std::strcmp(*e, "HM_TRACE_SYNC=1") == 0) sync_writes = true;
    if (pattern == nullptr || *pattern == '\0' || std::strlen(pattern) >= PATH_BYTES) {
        state.store(OFF, std::memory_order_release);
        return;
    }
    const char* name = argc > 0 && argv[0] != nullptr ? argv[0] : "program";
    if (const char* slash = std::strrchr(name, '/')) name = slash + 1;
    std::size_t k = 0;
    for (; name[k] != '\0' && k + 1 < sizeof program_name; ++k)
        program_name[k] = (name[k] == '%' || name[k] == ' ') ? '_' : name[k];
    std::strcpy(path_pattern, pattern);
    path_has_pid = std::strstr(pattern, "%p") != nullptr;

    // pthread_atfork may call malloc: that call goes to glibc unrecorded,
    // since the state is not ON yet.
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);

    Locked guard;
    buffer = static_cast<std::uint8_t*>(map_bytes(BUFFER_BYTES));
    if (buffer == nullptr || !grow_table() || !open_trace(0)) {
        state.store(OFF, std::memory_order_release);
        return;
    }
    state.store(ON, std::memory_order_release);
}

__attribute__((destructor)) void end_recording() {
    Locked guard;
    if (!recording()) return;
    emit(OP_END, records, unknown_calls, threads_seen.load(std::memory_order_relaxed));
    flush();
    // Calls after this (later destructors) are still buffered, never written.
}

// ---- the calls --------------------------------------------------------------------

void record_free(void* ptr) {
    Locked guard;
    if (!recording()) return;
    Entry e{};
    if (!take_entry(reinterpret_cast<std::uintptr_t>(ptr), &e)) {
        ++unknown_calls;
        return;
    }
    release_id(e.id);
    emit(OP_FREE, e.id);
}

// realloc(ptr, size), size > 0 and ptr not null. The entry leaves the table
// before glibc's realloc runs: once glibc has freed the old block, another
// thread may be handed its address.
void* recorded_realloc(void* ptr, std::size_t size) {
    Entry e{};
    bool known = false;
    if (recording()) {
        Locked guard;
        known = recording() && take_entry(reinterpret_cast<std::uintptr_t>(ptr), &e);
        if (recording() && !known) ++unknown_calls;
    }
    void* moved = __libc_realloc(ptr, size);
    if (!recording()) return moved;
    Locked guard;
    if (!recording()) return moved;
    if (moved == nullptr) {
        if (known) insert_entry(e);  // the old block lives on, unchanged
        return moved;
    }
    if (!known) {
        born(moved, OP_MALLOC, size, 0, 0, 0, size);
        return moved;
    }
    e.addr = reinterpret_cast<std::uintptr_t>(moved);
    e.size = size;
    e.align = 0;
    insert_entry(e);
    emit(OP_REALLOC, e.id, size);
    return moved;
}

void* recorded_aligned(void* ptr, AlignedKind kind, std::size_t alignment, std::size_t size) {
    if (ptr != nullptr && recording()) {
        Locked guard;
        born(ptr, OP_ALIGNED, kind, alignment, size, static_cast<std::uint32_t>(alignment), size);
    }
    return ptr;
}

std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

}  // namespace

// ---- the exported names -------------------------------------------------------------

#define HM_EXPORT extern "C" __attribute__((visibility("default")))

HM_EXPORT void* malloc(size_t size) {
    void* p = __libc_malloc(size);
    if (p != nullptr && recording()) {
        Locked guard;
        born(p, OP_MALLOC, size, 0, 0, 0, size);
    }
    return p;
}

HM_EXPORT void free(void* ptr) {
    if (ptr == nullptr) return;
    if (recording()) record_free(ptr);
    __libc_free(ptr);
}

HM_EXPORT void* calloc(size_t count, size_t size) {
    void* p = __libc_calloc(count, size);
    if (p != nullptr && recording()) {
        Locked guard;
        born(p, OP_CALLOC, count, size, 0, 0, count * size);
    }
    return p;
}

HM_EXPORT void* realloc(void* ptr, size_t size) {
    if (ptr == nullptr) return malloc(size);
    if (size == 0) {
        // glibc frees the block and returns NULL.
        free(ptr);
        return nullptr;
    }
    return recorded_realloc(ptr, size);
}

HM_EXPORT void* reallocarray(void* ptr, size_t count, size_t size) {
    size_t bytes = 0;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return nullptr;
    }
    return realloc(ptr, bytes);
}

HM_EXPORT int posix_memalign(void** out, size_t alignment, size_t size) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment % sizeof(void*) != 0)
        return EINVAL;
    int saved = errno;
    void* p = __libc_memalign(alignment, size);
    if (p == nullptr) {
        errno = saved;
        return ENOMEM;
    }
    *out = recorded_aligned(p, KIND_POSIX_MEMALIGN, alignment, size);
    return 0;
}

HM_EXPORT void* aligned_alloc(size_t alignment, size_t size) {
    return recorded_aligned(__libc_memalign(alignment, size), KIND_ALIGNED_ALLOC, alignment, size);
}

HM_EXPORT void* memalign(size_t alignment, size_t size) {
    return recorded_aligned(__libc_memalign(alignment, size), KIND_MEMALIGN, alignment, size);
}

HM_EXPORT void* valloc(size_t size) {
    return recorded_aligned(__libc_valloc(size), KIND_VALLOC, page_size(), size);
}

HM_EXPORT void* pvalloc(size_t size) {
    return recorded_aligned(__libc_pvalloc(size), KIND_PVALLOC, page_size(), size);
}
