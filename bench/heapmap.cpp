// bench/heapmap.cpp: draws a stage's heap, to scale, as an SVG picture
// (`make stage=N heapmap`, `make heapmaps`).
//
// Not part of any lesson. The stage runs the demo's fixed workload
// (common/demo_workload.hpp, the same calls as `make demo`), then hwalk()
// lists its blocks and every byte from where the heap began to the break is
// drawn as what it is:
//   header     a block's header (bookkeeping)
//   live data  payload bytes the program asked for
//   slack      payload bytes of a used block beyond what was asked (rounding,
//              a split that was not worth making)
//   free       payload of a free block
//   gap        bytes between blocks that are in no block: alignment padding,
//              or memory someone else took with sbrk
// and, past the break, the memory the heap had at its peak and gave back.
// The stage is loaded with dlopen and its sbrk calls land in the sbrk double
// (common/sbrk_double.cpp), so its heap is alone in its region.
//
// From stage 14 on, small blocks have no header and live in pages of one
// size class, cut from segments the stage maps (stages/14-*/pages.hpp):
// hwalk_mapped() reports them among the mapped blocks, with a header of 0
// bytes. A block is small when it is not the start of a mapping of its own
// (the mmap double, common/mmap_double.cpp, lists the live mappings); the
// mapping that holds it is its segment. Below the break heap, each page that
// holds live small blocks gets a row, to scale, from the 4 KiB boundary at
// or below its first live block (which skips a segment's records of its
// pages) to past its last one: live data and slack at their offsets, the
// rest white (no live block there: a free slot, or one not used yet).
//
// Usage: heapmap LIB OUT.svg [TITLE]
#include <dlfcn.h>

#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "demo_workload.hpp"
#include "hmalloc_api.h"
#include "mmap_double.h"
#include "sbrk_double.h"

namespace {

// ---- what each byte is ---------------------------------------------------------

enum Kind { HEADER, LIVE, SLACK, FREE, GAP, RETURNED, KINDS };
constexpr const char* KIND_NAME[KINDS] = {"header", "live data", "slack", "free", "gap (in no block)",
                                          "given back to the OS (up to the peak break)"};
constexpr const char* KIND_COLOUR[KINDS] = {"#4c5a70", "#2f8f5b", "#e3b23c", "#a9d4f5", "#ffffff", "#f1f1f1"};

struct Region {
    std::size_t from, to;  // offsets from the start of the heap
    Kind kind;
};

constexpr int MAX_REGIONS = 4096;
struct Map {
    Region regions[MAX_REGIONS];
    int count = 0;
    std::size_t total[KINDS] = {};
    int used_blocks = 0, free_blocks = 0;
    std::size_t block_starts[MAX_REGIONS];
    int starts = 0;
    void add(std::size_t from, std::size_t to, Kind kind) {
        if (to <= from || count == MAX_REGIONS) return;
        regions[count++] = {from, to, kind};
        total[kind] += to - from;
    }
};

struct WalkState {
    const hm::demo::Book* w;
    const char* heap_begin;
    std::size_t cursor;  // end of the last block drawn
    Map* map;
};

void visit(const hm_block_info* b, void* ctx) {
    auto* s = static_cast<WalkState*>(ctx);
    auto header = static_cast<std::size_t>(static_cast<const char*>(b->header) - s->heap_begin);
    auto payload = static_cast<std::size_t>(static_cast<const char*>(b->payload) - s->heap_begin);
    if (header > s->cursor) s->map->add(s->cursor, header, GAP);
    if (s->map->starts < MAX_REGIONS) s->map->block_starts[s->map->starts++] = header;
    s->map->add(header, payload, HEADER);
    if (b->free) {
        ++s->map->free_blocks;
        s->map->add(payload, payload + b->size, FREE);
    } else {
        ++s->map->used_blocks;
        std::size_t live = s->w->requested(b->payload);
        if (live > b->size) live = b->size;
        s->map->add(payload, payload + live, LIVE);
        s->map->add(payload + live, payload + b->size, SLACK);
    }
    s->cursor = payload + b->size;
}

// ---- small blocks in pages (stage 14 on) -----------------------------------------------

// The pages of stages 14-16 (stages/14-*/pages.hpp): the tool draws a row per
// PAGE_BYTES of a segment.
constexpr std::size_t PAGE_BYTES = std::size_t{64} << 10;

struct SmallBlock {
    std::size_t at, size, live;  // at: the offset in its page
};
struct Page {
    int segment;            // 1, 2, ... in address order
    std::size_t offset;     // the offset in its segment where its row begins (see visit_small)
    std::size_t extent;     // the end of its last live block, from `offset`
    std::size_t live, slack;
    int first, blocks;      // its blocks in Small::blocks
};
constexpr int MAX_SMALL = 4096, MAX_PAGES = 256, MAX_SEGMENTS = 64;
struct Small {
    SmallBlock blocks[MAX_SMALL];
    int count = 0;
    Page pages[MAX_PAGES];
    int page_count = 0;
    const char* segments[MAX_SEGMENTS] = {};
    std::size_t segment_length[MAX_SEGMENTS] = {};
    int segment_count = 0;
    std::size_t live = 0, slack = 0;
    int missed = 0;  // blocks past the arrays' room (not drawn)
    const hm::demo::Book* w;
    mmap_double_mapping mappings[1024];
    std::size_t mapping_count = 0;
};

void visit_small(const hm_block_info* b, void* ctx) {
    auto* s = static_cast<Small*>(ctx);
    const char* block = static_cast<const char*>(b->header);
    if (b->header_size != 0) return;
    const mmap_double_mapping* m = nullptr;
    for (std::size_t i = 0; i < s->mapping_count; ++i)
        if (block >= s->mappings[i].start && block < s->mappings[i].start + s->mappings[i].length) m = &s->mappings[i];
    if (m == nullptr || m->start == block) return;  // a mapped block: its own mapping
    int seg = s->segment_count;
    if (seg == 0 || s->segments[seg - 1] != m->start) {
        if (seg == MAX_SEGMENTS) {
            ++s->missed;
            return;
        }
        s->segments[seg] = m->start;
        s->segment_length[seg] = m->length;
        s->segment_count = ++seg;
    }
    auto in_segment = static_cast<std::size_t>(block - m->start);
    Page* p = s->page_count == 0 ? nullptr : &s->pages[s->page_count - 1];
    if (p == nullptr || p->segment != seg || p->offset / PAGE_BYTES != in_segment / PAGE_BYTES) {
        if (s->page_count == MAX_PAGES || s->count == MAX_SMALL) {
            ++s->missed;
            return;
        }
        p = &s->pages[s->page_count++];
        // The row starts at the 4 KiB boundary at or below the page's first
        // live block (blocks come in address order).
        *p = Page{seg, in_segment & ~std::size_t{4095}, 0, 0, 0, s->count, 0};
    }
    if (s->count == MAX_SMALL) {
        ++s->missed;
        return;
    }
    std::size_t live = s->w->requested(b->payload);
    if (live > b->size) live = b->size;
    SmallBlock k{in_segment - p->offset, b->size, live};
    s->blocks[s->count++] = k;
    ++p->blocks;
    p->live += live;
    p->slack += b->size - live;
    if (k.at + k.size > p->extent) p->extent = k.at + k.size;
    s->live += live;
    s->slack += b->size - live;
}

// ---- the picture -------------------------------------------------------------------

constexpr double LEFT = 90, PLOT_WIDTH = 1024, ROW_HEIGHT = 22, ROW_GAP = 6;

void rect(std::FILE* f, double x, double y, double w, double h, const char* fill, const char* extra = "") {
    std::fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"%s/>\n", x, y, w, h, fill,
                 extra);
}

const char* kind_style(Kind k) {
    if (k == GAP || k == RETURNED) return " stroke=\"#999\" stroke-width=\"0.5\"";
    return "";
}

// Draws [from, to) of kind `k`, broken across rows of `row_bytes`.
void draw_span(std::FILE* f, std::size_t from, std::size_t to, Kind k, std::size_t row_bytes, double top) {
    double scale = PLOT_WIDTH / static_cast<double>(row_bytes);
    while (from < to) {
        std::size_t row = from / row_bytes;
        std::size_t row_end = (row + 1) * row_bytes;
        std::size_t end = to < row_end ? to : row_end;
        double x = LEFT + static_cast<double>(from - row * row_bytes) * scale;
        double y = top + static_cast<double>(row) * (ROW_HEIGHT + ROW_GAP);
        rect(f, x, y, static_cast<double>(end - from) * scale, ROW_HEIGHT, KIND_COLOUR[k], kind_style(k));
        from = end;
    }
}

void marker(std::FILE* f, std::size_t at, std::size_t row_bytes, double top, const char* colour, const char* label,
            bool dashed) {
    double scale = PLOT_WIDTH / static_cast<double>(row_bytes);
    std::size_t row = at / row_bytes;
    if (at != 0 && at % row_bytes == 0) --row;  // a break at a row's end belongs to that row
    double x = LEFT + static_cast<double>(at - row * row_bytes) * scale;
    double y = top + static_cast<double>(row) * (ROW_HEIGHT + ROW_GAP);
    std::fprintf(f,
                 "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n"
                 "<text x=\"%.2f\" y=\"%.2f\" font-size=\"11\" fill=\"%s\" text-anchor=\"middle\">%s</text>\n",
                 x, y - 4, x, y + ROW_HEIGHT + 4, colour, dashed ? " stroke-dasharray=\"3,2\"" : "", x, y - 6, colour,
                 label);
}

std::string with_commas(std::size_t v) {
    std::string digits = std::to_string(v), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: heapmap LIB OUT.svg [TITLE]\n");
        return 64;
    }
    const char* lib = argv[1];
    const char* out = argv[2];
    const char* title = argc > 3 ? argv[3] : lib;

    static hm::demo::Book w;
    const char* why = hm::test::load_api(lib, &w.api);
    if (why != nullptr) {
        std::fprintf(stderr, "heapmap: cannot load %s: %s\n", lib, why);
        return 1;
    }
    char* heap_begin = sbrk_double_break();
    sbrk_double_reset_stats();
    hm::demo::run_demo_workload(w);
    sbrk_double_stats st = sbrk_double_get_stats();
    auto heap_end = static_cast<std::size_t>(sbrk_double_break() - heap_begin);
    std::size_t peak = st.peak - static_cast<std::size_t>(heap_begin - sbrk_double_region());
    if (peak < heap_end) peak = heap_end;

    static Map map;
    WalkState state{&w, heap_begin, 0, &map};
    w.api.hwalk(visit, &state);
    if (heap_end > state.cursor) map.add(state.cursor, heap_end, GAP);
    if (peak > heap_end) map.add(heap_end, peak, RETURNED);
    static Small small;
    small.w = &w;
    if (w.api.hwalk_mapped != nullptr) {
        small.mapping_count = mmap_double_mappings(small.mappings, sizeof small.mappings / sizeof small.mappings[0]);
        if (small.mapping_count > sizeof small.mappings / sizeof small.mappings[0])
            small.mapping_count = sizeof small.mappings / sizeof small.mappings[0];
        w.api.hwalk_mapped(visit_small, &small);
    }
    // The pages' rows: `page_row` bytes of each page, as many as its furthest
    // live block needs.
    std::size_t page_row = 256;
    for (int i = 0; i < small.page_count; ++i)
        while (page_row < small.pages[i].extent && page_row < PAGE_BYTES) page_row *= 2;
    const double PAGE_PITCH = ROW_HEIGHT + ROW_GAP + 4;
    double small_height = 0;
    if (small.count != 0) small_height = 50 + small.segment_count * 20.0 + small.page_count * PAGE_PITCH;

    // Rows of a power-of-two number of bytes, at most 32 rows.
    std::size_t row_bytes = 256;
    while (row_bytes * 32 < peak) row_bytes *= 2;
    std::size_t rows = (peak + row_bytes - 1) / row_bytes;
    if (rows == 0) rows = 1;
    const double legend_top = 70;
    const double top = legend_top + 3 * 22 + 30;
    double height = top + static_cast<double>(rows) * (ROW_HEIGHT + ROW_GAP) + 50 + small_height;
    double width = LEFT + PLOT_WIDTH + 30;

    std::FILE* f = std::fopen(out, "w");
    if (f == nullptr) {
        std::fprintf(stderr, "heapmap: cannot write %s\n", out);
        return 1;
    }
    std::size_t live = map.total[LIVE];
    std::fprintf(f,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                 "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
                 width, height, width, height);
    rect(f, 0, 0, width, height, "#ffffff");
    std::fprintf(f, "<text x=\"%.0f\" y=\"28\" font-size=\"18\" font-weight=\"bold\">%s: the heap after the demo workload</text>\n",
                 LEFT, title);
    std::fprintf(f,
                 "<text x=\"%.0f\" y=\"50\" font-size=\"12\" fill=\"#333\">%d used blocks, %d free; %s bytes from "
                 "the start of the heap to the break (peak %s); %s bytes of live data (%.0f%% of the heap). "
                 "To scale: one row is %s bytes.</text>\n",
                 LEFT, map.used_blocks, map.free_blocks, with_commas(heap_end).c_str(), with_commas(peak).c_str(),
                 with_commas(live).c_str(),
                 heap_end ? 100.0 * static_cast<double>(live) / static_cast<double>(heap_end) : 0.0,
                 with_commas(row_bytes).c_str());
    // The legend, with how many bytes of each kind.
    for (int k = 0; k < KINDS; ++k) {
        double x = LEFT + (k % 3) * 340.0, y = legend_top + (k / 3) * 22.0;
        rect(f, x, y, 14, 14, KIND_COLOUR[k], k == GAP || k == RETURNED ? " stroke=\"#999\"" : "");
        std::fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\">%s: %s bytes</text>\n", x + 20, y + 12,
                     KIND_NAME[k], with_commas(map.total[k]).c_str());
    }
    {
        double x = LEFT + 2 * 340.0, y = legend_top + 44;
        std::fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#d62728\" stroke-width=\"2.5\"/>\n",
                     x + 7, y, x + 7, y + 16);
        std::fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\">the break (end of the heap)</text>\n", x + 20,
                     y + 12);
    }
    // Row backgrounds and offsets.
    for (std::size_t r = 0; r < rows; ++r) {
        double y = top + static_cast<double>(r) * (ROW_HEIGHT + ROW_GAP);
        std::fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" fill=\"#555\" text-anchor=\"end\">+%s</text>\n",
                     LEFT - 8, y + 15, with_commas(r * row_bytes).c_str());
    }
    for (int i = 0; i < map.count; ++i)
        draw_span(f, map.regions[i].from, map.regions[i].to, map.regions[i].kind, row_bytes, top);
    // A thin line where each block begins.
    double scale = PLOT_WIDTH / static_cast<double>(row_bytes);
    for (int i = 0; i < map.starts; ++i) {
        std::size_t at = map.block_starts[i];
        std::size_t row = at / row_bytes;
        double x = LEFT + static_cast<double>(at - row * row_bytes) * scale;
        double y = top + static_cast<double>(row) * (ROW_HEIGHT + ROW_GAP);
        std::fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#111\" stroke-width=\"0.6\"/>\n", x,
                     y, x, y + ROW_HEIGHT);
    }
    marker(f, heap_end, row_bytes, top, "#d62728", "break", false);
    if (small.count != 0) {
        double y = top + static_cast<double>(rows) * (ROW_HEIGHT + ROW_GAP) + 24;
        std::fprintf(f,
                     "<text x=\"%.0f\" y=\"%.0f\" font-size=\"14\" font-weight=\"bold\">Small blocks, with no header: %d "
                     "live in %d pages of one size class (%s bytes of live data, %s of slack)</text>\n",
                     LEFT, y, small.count, small.page_count, with_commas(small.live).c_str(), with_commas(small.slack).c_str());
        std::fprintf(f,
                     "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\" fill=\"#333\">To scale: one row is %s bytes of a %s-byte page, from the "
                     "4 KiB boundary at or below its first live block; white: a free or unused slot.</text>\n",
                     LEFT, y + 20, with_commas(page_row).c_str(), with_commas(PAGE_BYTES).c_str());
        y += 34;
        double page_scale = PLOT_WIDTH / static_cast<double>(page_row);
        int seg = 0;
        for (int i = 0; i < small.page_count; ++i) {
            const Page& p = small.pages[i];
            if (p.segment != seg) {
                seg = p.segment;
                std::fprintf(f,
                             "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\">segment %d: %s bytes mapped; the pages that hold "
                             "live blocks, by the offset of their row in it</text>\n",
                             LEFT, y + 14, seg, with_commas(small.segment_length[seg - 1]).c_str());
                y += 20;
            }
            y += 4;
            std::string where = "+" + with_commas(p.offset);
            std::fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" fill=\"#555\" text-anchor=\"end\">%s</text>\n",
                         LEFT - 8, y + 10, where.c_str());
            std::fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\" fill=\"#555\" text-anchor=\"end\">%d x %s B</text>\n",
                         LEFT - 8, y + 21, p.blocks, with_commas(small.blocks[p.first].size).c_str());
            rect(f, LEFT, y, PLOT_WIDTH, ROW_HEIGHT, KIND_COLOUR[GAP], kind_style(GAP));
            for (int k = p.first; k < p.first + p.blocks; ++k) {
                const SmallBlock& b = small.blocks[k];
                double x = LEFT + static_cast<double>(b.at) * page_scale;
                rect(f, x, y, static_cast<double>(b.live) * page_scale, ROW_HEIGHT, KIND_COLOUR[LIVE]);
                rect(f, x + static_cast<double>(b.live) * page_scale, y, static_cast<double>(b.size - b.live) * page_scale,
                     ROW_HEIGHT, KIND_COLOUR[SLACK]);
                std::fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#111\" stroke-width=\"0.6\"/>\n",
                             x, y, x, y + ROW_HEIGHT);
            }
            y += ROW_HEIGHT + ROW_GAP;
        }
    }
    std::fprintf(f,
                 "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" fill=\"#555\">Heap start = the break before the first "
                 "call. Drawn by bench/heapmap.cpp from hwalk()%s; workload: common/demo_workload.hpp (make demo).%s</text>\n",
                 LEFT, height - 18, small.count != 0 ? " and hwalk_mapped()" : "", w.intact ? "" : " CONTENTS CORRUPTED.");
    std::fprintf(f, "</svg>\n");
    std::fclose(f);

    char pages[160] = "";
    if (small.count != 0)
        std::snprintf(pages, sizeof pages, "; small blocks: %d live in %d pages of %d segment(s), live %zu, slack %zu%s",
                      small.count, small.page_count, small.segment_count, small.live, small.slack,
                      small.missed != 0 ? " (some not drawn)" : "");
    std::printf("%s: %s (%d used, %d free blocks; heap %zu bytes, peak %zu; live %zu; headers %zu, slack %zu, free %zu, gap %zu%s)%s\n",
                title, out, map.used_blocks, map.free_blocks, heap_end, peak, live, map.total[HEADER], map.total[SLACK],
                map.total[FREE], map.total[GAP], pages, w.intact ? "" : " CONTENTS CORRUPTED");
    return w.intact ? 0 : 1;
}
