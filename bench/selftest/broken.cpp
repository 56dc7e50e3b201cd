// bench/selftest/broken.cpp: an allocator with a bug chosen at run time, to
// show that the replayer notices (bench/selftest/run.sh, make bench-selftest).
//
// Not part of any lesson. It looks like a stage (hmalloc, hfree, hwalk,
// hcalloc, hrealloc) and hands out blocks from a bump arena of its own: a
// 16-byte header holding the size, then the payload, rounded up to 16; a
// block is never reused. HM_BROKEN chooses the bug:
//   none      no bug: the replay must pass
//   overlap   every 1000th block starts 8 bytes before the end of the previous one
//   calloc    hcalloc returns memory it did not zero
//   realloc   hrealloc moves the block without copying its contents
//   scribble  hfree writes 8 bytes into the payload of the block after the
//             one it frees (a header written in the wrong place)
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#define HM_EXPORT extern "C" __attribute__((visibility("default")))

extern "C" {
typedef struct hm_block_info {
    const void* header;
    size_t header_size;
    void* payload;
    size_t size;
    int free;
} hm_block_info;
typedef void (*hm_visit_fn)(const hm_block_info* block, void* ctx);
}

namespace {

enum Bug { NONE, OVERLAP, CALLOC, REALLOC, SCRIBBLE };

constexpr std::size_t HEADER = 16;
constinit char* arena = nullptr;
constinit std::size_t used = 0;
constexpr std::size_t ARENA = std::size_t{1} << 34;  // address space only
constinit Bug bug = NONE;
constinit std::uint64_t count = 0;
constinit char* last = nullptr;  // the newest payload

std::size_t rounded(std::size_t size) { return (size + 15) / 16 * 16; }
std::size_t size_of(const char* payload) {
    std::size_t size;
    std::memcpy(&size, payload - HEADER, sizeof size);
    return size;
}

void start() {
    if (arena != nullptr) return;
    void* p = mmap(nullptr, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) std::abort();
    arena = static_cast<char*>(p);
    const char* b = std::getenv("HM_BROKEN");
    if (b == nullptr || std::strcmp(b, "none") == 0) bug = NONE;
    else if (std::strcmp(b, "overlap") == 0) bug = OVERLAP;
    else if (std::strcmp(b, "calloc") == 0) bug = CALLOC;
    else if (std::strcmp(b, "realloc") == 0) bug = REALLOC;
    else if (std::strcmp(b, "scribble") == 0) bug = SCRIBBLE;
    else std::abort();
}

char* bump(std::size_t size) {
    start();
    std::size_t room = HEADER + rounded(size);
    if (used + room > ARENA) return nullptr;
    char* payload;
    if (bug == OVERLAP && ++count % 1000 == 0 && last != nullptr && size_of(last) >= 8) {
        payload = last + size_of(last) - 8;  // overlaps the newest block
    } else {
        payload = arena + used + HEADER;
        used += room;
    }
    std::memcpy(payload - HEADER, &size, sizeof size);
    last = payload;
    return payload;
}

}  // namespace

HM_EXPORT void* hmalloc(size_t size) { return bump(size); }

HM_EXPORT void hfree(void* ptr) {
    if (ptr == nullptr) return;
    auto* p = static_cast<char*>(ptr);
    char* next = p + rounded(size_of(p)) + HEADER;  // the next block's payload
    if (bug == SCRIBBLE && next + 8 <= arena + used && size_of(next) >= 8) std::memset(next, 0x5a, 8);
}

HM_EXPORT void* hcalloc(size_t n, size_t size) {
    std::size_t bytes = n * size;
    char* p = bump(bytes);
    if (p != nullptr) std::memset(p, bug == CALLOC ? 0xee : 0, bytes);
    return p;
}

HM_EXPORT void* hrealloc(void* ptr, size_t size) {
    if (ptr == nullptr) return bump(size);
    char* moved = bump(size);
    if (moved == nullptr) return nullptr;
    std::size_t old = size_of(static_cast<char*>(ptr));
    if (bug != REALLOC) std::memcpy(moved, ptr, old < size ? old : size);
    return moved;
}

HM_EXPORT void hwalk(hm_visit_fn, void*) {}
