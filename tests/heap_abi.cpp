// tests/heap_abi.cpp: hwalk's view of the heap, and what the library exports
// and needs (read from its ELF file: no nm or readelf needed).
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

#include "harness.hpp"

using namespace suite;

// ---- heap -------------------------------------------------------------------------------

TEST(heap, walk_is_consistent) {
    check_walk(nullptr, 0, true);  // the heap as the test found it
    static Block all[120];
    // Above 1 KiB: on the break heap, which hwalk shows, in every stage
    // (stage 14 serves smaller blocks from pages, shown by hwalk_mapped).
    for (std::size_t i = 0; i < 120; ++i) all[i] = alloc_filled(1040 + (i * 131) % 1500);
    Block guard = alloc_filled(1040);
    // Free every third block (never the top one): free blocks stay listed.
    static Block live[121];
    std::size_t n = 0;
    static unsigned char* freed[40];
    std::size_t nfreed = 0;
    for (std::size_t i = 0; i < 120; ++i) {
        if (i % 3 == 1) {
            freed[nfreed++] = all[i].p;
            hfree(all[i].p);
        } else {
            live[n++] = all[i];
        }
    }
    live[n++] = guard;
    check_intact(live, n);
    check_walk(live, n, true);
    const Walk& w = walk_now();
    // Each freed block lies between two live ones: nothing to merge with, nothing to trim.
    for (std::size_t i = 0; i < nfreed; ++i) {
        const BlockInfo* b = w.find(freed[i]);
        CHECK(b != nullptr) << "freed block " << freed[i] << " (between two live blocks) is not in hwalk";
        CHECK(b->free != 0) << "freed block " << freed[i] << " is listed as used";
    }
    std::size_t covered = 0;
    for (std::size_t i = 0; i < w.count; ++i) covered += w.blocks[i].header_size + w.blocks[i].size;
    CHECK_LE(covered, static_cast<std::size_t>(current_break() - sbrk_double_region()))
        << "hwalk's blocks add up to more than the heap";
}

// ---- abi: reading the library's ELF file ------------------------------------------------

namespace {

struct Elf {
    const unsigned char* data = nullptr;
    std::size_t size = 0;
    const Elf64_Sym* syms = nullptr;
    std::size_t nsyms = 0;
    const char* symstr = nullptr;
    const Elf64_Dyn* dyn = nullptr;
    std::size_t ndyn = 0;
    const char* dynstr = nullptr;
};

template <class T>
const T* at(const Elf& e, std::size_t offset, std::size_t count = 1) {
    CHECK(offset <= e.size && count <= (e.size - offset) / sizeof(T)) << "the ELF file is cut short";
    return reinterpret_cast<const T*>(e.data + offset);
}

// Maps the stage library and finds its dynamic symbols and dynamic section.
const Elf& load_elf() {
    static Elf e;
    int fd = ::open(library_path, O_RDONLY);
    CHECK(fd >= 0) << "cannot open " << library_path;
    struct stat st{};
    CHECK(::fstat(fd, &st) == 0);
    e.size = static_cast<std::size_t>(st.st_size);
    void* m = ::mmap(nullptr, e.size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    CHECK(m != MAP_FAILED) << "cannot map " << library_path;
    e.data = static_cast<const unsigned char*>(m);
    const auto* eh = at<Elf64_Ehdr>(e, 0);
    CHECK(std::memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64)
        << library_path << " is not a 64-bit ELF file";
    CHECK_EQ(eh->e_shentsize, sizeof(Elf64_Shdr));
    const auto* sh = at<Elf64_Shdr>(e, eh->e_shoff, eh->e_shnum);
    for (std::size_t i = 0; i < eh->e_shnum; ++i) {
        CHECK_LT(sh[i].sh_link, eh->e_shnum);
        const Elf64_Shdr& link = sh[sh[i].sh_link];
        if (sh[i].sh_type == SHT_DYNSYM) {
            e.nsyms = sh[i].sh_size / sizeof(Elf64_Sym);
            e.syms = at<Elf64_Sym>(e, sh[i].sh_offset, e.nsyms);
            e.symstr = at<char>(e, link.sh_offset, link.sh_size);
        } else if (sh[i].sh_type == SHT_DYNAMIC) {
            e.ndyn = sh[i].sh_size / sizeof(Elf64_Dyn);
            e.dyn = at<Elf64_Dyn>(e, sh[i].sh_offset, e.ndyn);
            e.dynstr = at<char>(e, link.sh_offset, link.sh_size);
        }
    }
    CHECK(e.syms != nullptr) << library_path << " has no dynamic symbol table";
    CHECK(e.dyn != nullptr) << library_path << " has no dynamic section";
    return e;
}

bool defined(const Elf64_Sym& s) {
    unsigned bind = ELF64_ST_BIND(s.st_info);
    unsigned type = ELF64_ST_TYPE(s.st_info);
    return s.st_shndx != SHN_UNDEF && s.st_name != 0 && (bind == STB_GLOBAL || bind == STB_WEAK || bind == STB_GNU_UNIQUE) &&
           type != STT_SECTION && type != STT_FILE;
}

bool exports(const Elf& e, const char* name) {
    for (std::size_t i = 0; i < e.nsyms; ++i) {
        if (defined(e.syms[i]) && std::strcmp(e.symstr + e.syms[i].st_name, name) == 0) return true;
    }
    return false;
}

bool starts_with(const char* s, const char* prefix) { return std::strncmp(s, prefix, std::strlen(prefix)) == 0; }

constexpr const char* API_NAMES[] = {"hmalloc", "hfree", "hwalk", "hcalloc", "hrealloc", "hreallocarray",
                                     "hwalk_mapped"};
constexpr const char* STANDARD_NAMES[] = {"malloc",         "free",    "calloc", "realloc", "reallocarray",
                                          "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
                                          "malloc_usable_size"};

// The functions the stage's hmalloc.h declares: comments and preprocessor
// lines removed, then every top-level declaration that is not a typedef and
// has a parameter list gives the name in front of its '('.
struct Declared {
    char names[32][64];
    std::size_t count = 0;
};

void parse_header(Declared& d) {
    CHECK(header_path != nullptr) << "no hmalloc.h to compare with (give --header or --limitations)";
    static char text[1 << 16];
    int fd = ::open(header_path, O_RDONLY);
    CHECK(fd >= 0) << "cannot open " << header_path;
    std::size_t len = 0;
    for (ssize_t n; (n = ::read(fd, text + len, sizeof text - 1 - len)) > 0;) len += static_cast<std::size_t>(n);
    ::close(fd);
    text[len] = '\0';
    // Comments become spaces.
    for (std::size_t i = 0; i + 1 < len; ++i) {
        if (text[i] == '/' && text[i + 1] == '*') {
            std::size_t j = i;
            while (j + 1 < len && !(text[j] == '*' && text[j + 1] == '/')) text[j++] = ' ';
            if (j + 1 < len) text[j] = text[j + 1] = ' ';
        } else if (text[i] == '/' && text[i + 1] == '/') {
            while (i < len && text[i] != '\n') text[i++] = ' ';
        }
    }
    // Preprocessor lines, and the extern "C" braces, go too.
    for (std::size_t i = 0; i < len;) {
        std::size_t e = i;
        while (e < len && text[e] != '\n') ++e;
        std::size_t b = i;
        while (b < e && (text[b] == ' ' || text[b] == '\t')) ++b;
        bool drop = (b < e && text[b] == '#') || (e - b == 1 && text[b] == '}') ||
                    (e - b >= 10 && std::strncmp(text + b, "extern \"C\"", 10) == 0);
        if (drop) std::memset(text + i, ' ', e - i);
        i = e + 1;
    }
    static char statement[4096];
    std::size_t sl = 0;
    int depth = 0;
    bool braces = false;
    for (std::size_t i = 0; i < len; ++i) {
        char c = text[i];
        if (c == '{') ++depth, braces = true;
        if (c == '}') --depth;
        if (c == ';' && depth == 0) {
            statement[sl] = '\0';
            const char* s = statement;
            while (*s == ' ' || *s == '\n' || *s == '\t') ++s;
            const char* paren = std::strchr(s, '(');
            if (!braces && !starts_with(s, "typedef") && paren != nullptr && d.count < 32) {
                const char* end = paren;
                while (end > s && end[-1] == ' ') --end;
                const char* begin = end;
                while (begin > s && (std::isalnum(static_cast<unsigned char>(begin[-1])) || begin[-1] == '_')) --begin;
                std::size_t n = static_cast<std::size_t>(end - begin);
                if (n > 0 && n < 64) {
                    std::memcpy(d.names[d.count], begin, n);
                    d.names[d.count++][n] = '\0';
                }
            }
            sl = 0;
            braces = false;
        } else if (depth == 0 && c != '}' && sl + 1 < sizeof statement) {
            statement[sl++] = c;
        }
    }
}

}  // namespace

TEST(abi, exports_only_api) {
    const Elf& e = load_elf();
    bool standard = exports(e, "malloc");
    for (std::size_t i = 0; i < e.nsyms; ++i) {
        if (!defined(e.syms[i])) continue;
        const char* name = e.symstr + e.syms[i].st_name;
        bool allowed = false;
        for (const char* a : API_NAMES) allowed = allowed || std::strcmp(a, name) == 0;
        if (standard) {
            for (const char* a : STANDARD_NAMES) allowed = allowed || std::strcmp(a, name) == 0;
        }
        CHECK(allowed) << library_path << " exports " << name << ", which is not part of the API";
    }
    static Declared d;
    parse_header(d);
    CHECK_GE(d.count, std::size_t{3}) << "found fewer than 3 functions declared in " << header_path;
    for (std::size_t i = 0; i < d.count; ++i) {
        CHECK(exports(e, d.names[i])) << header_path << " declares " << d.names[i] << " but " << library_path
                                      << " does not export it";
    }
    for (const char* name : {"hmalloc", "hfree", "hwalk"}) {
        CHECK(exports(e, name)) << library_path << " does not export " << name;
    }
}

TEST(abi, no_cxx_runtime) {
    const Elf& e = load_elf();
    for (std::size_t i = 0; i < e.ndyn; ++i) {
        if (e.dyn[i].d_tag != DT_NEEDED) continue;
        const char* lib = e.dynstr + e.dyn[i].d_un.d_val;
        CHECK(!starts_with(lib, "libstdc++") && !starts_with(lib, "libgcc_s") && !starts_with(lib, "libc++"))
            << library_path << " needs " << lib << " (the C++ runtime)";
    }
    for (std::size_t i = 0; i < e.nsyms; ++i) {
        const Elf64_Sym& s = e.syms[i];
        if (s.st_shndx != SHN_UNDEF || s.st_name == 0) continue;
        const char* name = e.symstr + s.st_name;
        bool weak = ELF64_ST_BIND(s.st_info) == STB_WEAK;
        if (weak && std::strcmp(name, "__cxa_finalize") == 0) continue;
        CHECK(!starts_with(name, "_Z") && !starts_with(name, "__cxa_") && !starts_with(name, "__gxx_personality"))
            << library_path << " uses " << name << " from the C++ runtime";
    }
}
