// bench/trace_format.hpp: the allocation trace format (.hmt), shared by the
// recorder, the generator and the replayer.
//
// Not part of any lesson. A trace is what a program asked of its malloc, in
// the order it asked, with every block named by a small number (its id)
// instead of an address, so it can be replayed against any allocator.
//
// A file is a 64-byte header followed by records. A record is one opcode
// byte followed by unsigned LEB128 numbers (7 bits a byte, low bits first):
//
//   MALLOC   id size              the block `id` is born with `size` bytes
//   CALLOC   id count size        ... zeroed, count * size bytes
//   REALLOC  id size              the block `id` is resized (it may move; it
//                                 keeps its id). realloc(NULL, n) is MALLOC,
//                                 realloc(p, 0) that freed p is FREE.
//   FREE     id                   the block `id` dies; its id may be reused
//   ALIGNED  id kind align size   the memalign family (kind: AlignedKind)
//   THREAD   thread               the records that follow come from thread
//                                 number `thread` (1, 2, ... in order of
//                                 first call); the first record of a file
//                                 is always one
//   END      ops unknown threads  written at exit: records so far, calls on
//                                 pointers the recorder never saw (freed or
//                                 resized blocks allocated before recording
//                                 began), threads seen
//
// Ids are reused after FREE (lowest free first is not promised, only that
// an id is never live twice), so the largest id is about the largest number
// of blocks live at once. Calls that failed (NULL from malloc) are not
// recorded. All numbers are little-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hm::trace {

inline constexpr char MAGIC[8] = {'H', 'M', 'T', 'R', 'A', 'C', 'E', '1'};
inline constexpr std::uint32_t VERSION = 1;

// Header flags.
inline constexpr std::uint32_t FLAG_FORKED_CHILD = 1;  // begins with the parent's live blocks
inline constexpr std::uint32_t FLAG_SYNTHETIC = 2;     // made by bench/gen, not recorded

struct FileHeader {
    char magic[8];
    std::uint32_t version;
    std::uint32_t flags;
    std::uint32_t pid;
    std::uint32_t parent_pid;
    char program[32];  // the program's name (or the workload's), NUL-padded
    std::uint64_t reserved;
};
static_assert(sizeof(FileHeader) == 64);

enum Op : std::uint8_t {
    OP_MALLOC = 1,
    OP_CALLOC = 2,
    OP_REALLOC = 3,
    OP_FREE = 4,
    OP_ALIGNED = 5,
    OP_THREAD = 6,
    OP_END = 7,
};

enum AlignedKind : std::uint8_t {
    KIND_POSIX_MEMALIGN = 0,
    KIND_ALIGNED_ALLOC = 1,
    KIND_MEMALIGN = 2,
    KIND_VALLOC = 3,
    KIND_PVALLOC = 4,
    KIND_COUNT = 5,
};
inline constexpr const char* KIND_NAME[KIND_COUNT] = {"posix_memalign", "aligned_alloc", "memalign",
                                                      "valloc", "pvalloc"};

// The longest record: an opcode and four 10-byte numbers.
inline constexpr std::size_t MAX_RECORD = 1 + 4 * 10;

// ---- encoding -------------------------------------------------------------------

// Writes `v` at `out`; returns the bytes written (1 to 10).
inline std::size_t put_number(std::uint8_t* out, std::uint64_t v) {
    std::size_t n = 0;
    while (v >= 0x80) {
        out[n++] = static_cast<std::uint8_t>(v | 0x80);
        v >>= 7;
    }
    out[n++] = static_cast<std::uint8_t>(v);
    return n;
}

// One record: the opcode and up to four numbers. Returns its length.
inline std::size_t put_record(std::uint8_t* out, Op op, std::uint64_t a = 0, std::uint64_t b = 0,
                              std::uint64_t c = 0, std::uint64_t d = 0, int numbers = 0) {
    std::size_t n = 0;
    out[n++] = op;
    const std::uint64_t values[4] = {a, b, c, d};
    for (int i = 0; i < numbers; ++i) n += put_number(out + n, values[i]);
    return n;
}

inline constexpr int numbers_of(Op op) {
    switch (op) {
        case OP_MALLOC: return 2;
        case OP_CALLOC: return 3;
        case OP_REALLOC: return 2;
        case OP_FREE: return 1;
        case OP_ALIGNED: return 4;
        case OP_THREAD: return 1;
        case OP_END: return 3;
    }
    return -1;
}

inline FileHeader make_header(std::uint32_t flags, std::uint32_t pid, std::uint32_t parent_pid,
                              const char* program) {
    FileHeader h{};
    std::memcpy(h.magic, MAGIC, sizeof MAGIC);
    h.version = VERSION;
    h.flags = flags;
    h.pid = pid;
    h.parent_pid = parent_pid;
    for (std::size_t i = 0; program != nullptr && program[i] != '\0' && i + 1 < sizeof h.program; ++i)
        h.program[i] = program[i];
    return h;
}

// ---- decoding -------------------------------------------------------------------

struct Record {
    Op op;
    std::uint64_t n[4];
};

// Reads records one by one from [begin, end).
class Reader {
public:
    Reader(const std::uint8_t* begin, const std::uint8_t* end) : p_(begin), end_(end) {}

    bool at_end() const { return p_ == end_; }
    std::size_t offset_from(const std::uint8_t* base) const { return static_cast<std::size_t>(p_ - base); }

    // False at a malformed or cut-off record (the reader then stays put).
    bool next(Record* r) {
        const std::uint8_t* start = p_;
        if (p_ == end_) return false;
        auto op = static_cast<Op>(*p_++);
        int count = numbers_of(op);
        if (count < 0) {
            p_ = start;
            return false;
        }
        r->op = op;
        r->n[0] = r->n[1] = r->n[2] = r->n[3] = 0;
        for (int i = 0; i < count; ++i) {
            if (!number(&r->n[i])) {
                p_ = start;
                return false;
            }
        }
        return true;
    }

private:
    bool number(std::uint64_t* v) {
        std::uint64_t result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p_ == end_) return false;
            std::uint8_t byte = *p_++;
            result |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
            if ((byte & 0x80) == 0) {
                *v = result;
                return true;
            }
        }
        return false;
    }
    const std::uint8_t* p_;
    const std::uint8_t* end_;
};

}  // namespace hm::trace
