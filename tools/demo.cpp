// tools/demo.cpp: the same small workload on every stage, with figures and
// a text picture of the heap (`make demo`).
//
// Not part of any lesson. Each stage runs in a child process of its own, so a
// stage that corrupts its heap cannot spoil the next one. The stage is
// loaded with dlopen and seen from outside: its API, hwalk(), and the calls
// it makes to sbrk, which land in common/sbrk_double.cpp.
//
// Usage: demo [--no-intro] [NAME=]LIB...   (each LIB a build/NN/libhmalloc.so,
//        NAME what to call it: the stage's folder name)
#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "demo_workload.hpp"
#include "hmalloc_api.h"
#include "mmap_double.h"
#include "sbrk_double.h"

namespace {

// ---- the picture ----------------------------------------------------------------
//
// One character per SCALE bytes of the heap, from where the heap began to
// the break: each cell shows what most of its bytes are. The scale is the same
// for every stage, so two stages' pictures compare by length: 64 bytes keeps
// the largest heap of the workload (about 17 KB, stage 02) to five rows. Rows
// that repeat the one above are counted instead of drawn, and a heap beyond
// MAX_ROWS rows is drawn up to there, and the rest is counted.

enum Kind : unsigned char { GAP, HEADER, LIVE, SLACK, FREE, KINDS };
constexpr char KIND_CHAR[KINDS] = {' ', 'h', '#', '+', '.'};
constexpr std::size_t SCALE = 64;
constexpr int PICTURE_WIDTH = 64;
constexpr int MAX_ROWS = 64;
constexpr int PICTURE_CELLS = PICTURE_WIDTH * MAX_ROWS;

struct Picture {
    const hm::demo::Book* w;
    char* heap_begin;
    std::size_t scale = SCALE;
    std::size_t count[PICTURE_CELLS][KINDS];
    int used_blocks = 0, free_blocks = 0;
    std::size_t header_bytes = 0;

    void paint(const char* from, const char* to, Kind kind) {
        if (to <= from) return;
        std::size_t a = static_cast<std::size_t>(from - heap_begin);
        std::size_t b = static_cast<std::size_t>(to - heap_begin);
        while (a < b) {
            std::size_t cell = a / scale;
            if (cell >= PICTURE_CELLS) return;
            std::size_t cell_end = (cell + 1) * scale;
            std::size_t n = (b < cell_end ? b : cell_end) - a;
            count[cell][kind] += n;
            a += n;
        }
    }
    static void visit(const hm_block_info* b, void* ctx) {
        auto* pic = static_cast<Picture*>(ctx);
        auto* header = static_cast<const char*>(b->header);
        auto* payload = static_cast<const char*>(b->payload);
        pic->paint(header, payload, HEADER);
        pic->header_bytes += b->header_size;
        if (b->free) {
            ++pic->free_blocks;
            pic->paint(payload, payload + b->size, FREE);
        } else {
            ++pic->used_blocks;
            std::size_t live = pic->w->requested(b->payload);
            pic->paint(payload, payload + live, LIVE);
            pic->paint(payload + live, payload + b->size, SLACK);
        }
    }
    // A cell's blank part is only what lies inside the heap but in no block
    // (a gap); the part of the last cell beyond the break is not counted. Rows
    // that repeat the row above (a long free block, say) are counted, not drawn.
    void print(std::size_t heap_bytes) {
        std::size_t cells = (heap_bytes + scale - 1) / scale;
        std::size_t drawn = cells < PICTURE_CELLS ? cells : PICTURE_CELLS;
        char row_text[PICTURE_WIDTH + 1], previous[PICTURE_WIDTH + 1] = "";
        std::size_t repeats = 0;
        for (std::size_t row = 0; row * PICTURE_WIDTH < drawn; ++row) {
            std::size_t width = 0;
            for (std::size_t col = 0; col < PICTURE_WIDTH; ++col) {
                std::size_t cell = row * PICTURE_WIDTH + col;
                if (cell >= drawn) break;
                std::size_t in_heap = heap_bytes - cell * scale < scale ? heap_bytes - cell * scale : scale;
                std::size_t covered = 0;
                for (int k = 1; k < KINDS; ++k) covered += count[cell][k];
                count[cell][GAP] = in_heap > covered ? in_heap - covered : 0;
                int best = GAP;
                for (int k = 1; k < KINDS; ++k)
                    if (count[cell][k] > count[cell][best]) best = k;
                row_text[width++] = KIND_CHAR[best];
            }
            row_text[width] = '\0';
            bool last = (row + 1) * PICTURE_WIDTH >= drawn;
            if (!last && width == PICTURE_WIDTH && std::strcmp(row_text, previous) == 0) {
                ++repeats;
                continue;
            }
            if (repeats != 0)
                std::printf("    |  (%zu more rows like the one above: %zu bytes)\n", repeats,
                            repeats * PICTURE_WIDTH * scale);
            repeats = 0;
            std::printf("    |%s%s\n", row_text, last && drawn == cells ? "| <- break" : "");
            std::memcpy(previous, row_text, sizeof row_text);
        }
        if (drawn < cells)
            std::printf("    (%zu more bytes up to the break, not drawn)\n", heap_bytes - drawn * scale);
    }
};

// ---- one stage --------------------------------------------------------------------

// Counts the blocks hwalk_mapped shows with no header.
struct SmallCount {
    std::size_t blocks = 0, bytes = 0;
    static void visit(const hm_block_info* b, void* ctx) {
        auto* c = static_cast<SmallCount*>(ctx);
        if (b->header_size != 0) return;
        ++c->blocks;
        c->bytes += b->size;
    }
};

int demo_stage(const char* lib) {
    hm::test::Api api;
    const char* why = hm::test::load_api(lib, &api);
    if (why != nullptr) {
        std::printf("  cannot load: %s\n", why);
        return 1;
    }
    char* heap_begin = sbrk_double_break();
    sbrk_double_reset_stats();
    mmap_double_reset_stats();
    static hm::demo::Book w;
    w.api = api;
    hm::demo::run_demo_workload(w);
    sbrk_double_stats st = sbrk_double_get_stats();
    mmap_double_stats ms = mmap_double_get_stats();
    std::size_t heap_bytes = static_cast<std::size_t>(sbrk_double_break() - heap_begin);
    std::size_t peak_heap = st.peak - static_cast<std::size_t>(heap_begin - sbrk_double_region());

    std::printf("  calls to the OS   %lu sbrk calls: %lu grow, %lu shrink, %lu ask where the break is\n",
                st.calls, st.grows, st.shrinks, st.queries);
    // A stage that gives large blocks mappings of their own (09 on): its calls
    // to mmap, and the bytes it has mapped (blocks and its own table).
    if (api.hwalk_mapped != nullptr) {
        std::printf("  mappings          %lu mmap, %lu munmap, %lu mremap calls; %zu bytes mapped at the end, %zu at the peak\n",
                    ms.maps, ms.unmaps, ms.remaps, ms.live_bytes, ms.peak_bytes);
    }
    if (heap_bytes != 0 || peak_heap != 0) {
        std::printf("  heap at the end   %zu bytes from the OS for %zu live bytes (%.0f%% of the heap is live data)\n",
                    heap_bytes, w.live_bytes, heap_bytes ? 100.0 * static_cast<double>(w.live_bytes) / static_cast<double>(heap_bytes) : 100.0);
        std::printf("  heap at its peak  %zu bytes from the OS; live data peaked at %zu bytes (%.0f%%)\n",
                    peak_heap, w.peak_live, peak_heap ? 100.0 * static_cast<double>(w.peak_live) / static_cast<double>(peak_heap) : 100.0);
    } else {
        std::printf("  heap              the break never moved: every block is in a mapping (%zu live bytes at the end, %zu at the peak)\n",
                    w.live_bytes, w.peak_live);
    }
    // Blocks with no header in the stage's mappings: small blocks in pages of
    // their size class (stage 14 on).
    if (api.hwalk_mapped != nullptr) {
        SmallCount small;
        api.hwalk_mapped(&SmallCount::visit, &small);
        if (small.blocks != 0)
            std::printf("  small blocks      %zu live in pages of their size class, %zu bytes, no headers\n",
                        small.blocks, small.bytes);
    }
    std::printf("  alignment         %s (%d of %d results aligned to %zu)\n",
                w.misaligned == 0 ? "ok" : "BROKEN", w.results - w.misaligned, w.results,
                alignof(std::max_align_t));
    std::printf("  grown blocks      %d of %d kept their address\n", w.in_place, w.resized);
    std::printf("  contents          %s%s\n", w.intact ? "intact" : "CORRUPTED",
                w.zeroed ? "" : ", calloc'd block NOT zeroed");
    if (w.emulated != 0)
        std::printf("  note              %d hrealloc/hcalloc calls done with hmalloc + copy + hfree: the stage has neither yet\n",
                    w.emulated);

    static Picture pic;
    pic.w = &w;
    pic.heap_begin = heap_begin;
    api.hwalk(&Picture::visit, &pic);
    if (heap_bytes == 0 && pic.used_blocks + pic.free_blocks == 0) {
        std::printf("  blocks            none on the break heap: nothing to draw\n");
    } else {
        std::printf("  blocks            %d used, %d free, %zu bytes of headers; the heap, %zu bytes a character:\n",
                    pic.used_blocks, pic.free_blocks, pic.header_bytes, pic.scale);
        pic.print(heap_bytes);
    }
    std::fflush(stdout);
    return w.intact && w.misaligned == 0 && w.zeroed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    int first = 1;
    bool intro = true;
    if (argc > 1 && std::strcmp(argv[1], "--no-intro") == 0) {
        intro = false;
        first = 2;
    }
    if (intro)
        std::printf("The same workload on every stage (common/demo_workload.hpp): 96 blocks of mixed sizes; every\n"
                    "other one freed; 40 small ones asked for; a run of 24 neighbours freed and one large\n"
                    "block asked for; 8 blocks grown threefold; 4 zeroed ones asked for; then the newest\n"
                    "blocks freed, newest first. Picture key: h header, # live data, + slack (a block\n"
                    "bigger than asked), . free block, blank: a gap (in the heap but in no block).\n"
                    "Every picture is drawn at the same scale: one character for %zu bytes.\n", SCALE);
    for (int i = first; i < argc; ++i) {
        const char* lib = argv[i];
        const char* name = lib;
        if (const char* eq = std::strchr(lib, '=')) {
            name = lib;
            lib = eq + 1;
            std::printf("%s%.*s\n", i > first || intro ? "\n" : "", static_cast<int>(eq - name), name);
        } else {
            std::printf("%s%s\n", i > first || intro ? "\n" : "", name);
        }
        std::fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) _exit(demo_stage(lib));
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) std::printf("  the stage crashed: %s\n", strsignal(WTERMSIG(status)));
    }
    if (intro)
        std::printf("\nThe same heaps drawn to scale: bench/results/heapmap-NN.svg (make heapmaps). Each stage's\n"
                    "figures and picture, explained: JOURNAL.md. Against glibc and other allocators: make bench.\n");
    return 0;
}
