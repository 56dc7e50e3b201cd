// common/print.hpp: a printer that never allocates.
//
// Not part of any lesson. The allocator must not call printf (printf may call
// malloc), so messages are formatted into a buffer on the stack and handed to
// write(2) in one call. Used by the stages for their error messages and by the
// test-side tools.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unistd.h>

namespace hm::print {

// Collects pieces of one message; flush() writes it with a single write(2),
// so lines from different threads do not interleave mid-line.
class Line {
public:
    explicit Line(int fd) : fd_(fd) {}
    Line(const Line&) = delete;
    Line& operator=(const Line&) = delete;

    Line& text(const char* s) {
        while (*s != '\0') put(*s++);
        return *this;
    }
    Line& number(std::uint64_t v) {
        char digits[20];
        int n = 0;
        do {
            digits[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (n > 0) put(digits[--n]);
        return *this;
    }
    Line& pointer(const void* p) {
        static constexpr char HEX[] = "0123456789abcdef";
        auto v = reinterpret_cast<std::uintptr_t>(p);
        text("0x");
        bool started = false;
        for (int shift = 60; shift >= 0; shift -= 4) {
            unsigned d = (v >> shift) & 0xf;
            if (d != 0 || started || shift == 0) {
                put(HEX[d]);
                started = true;
            }
        }
        return *this;
    }
    void flush() {
        std::size_t done = 0;
        while (done < len_) {
            ssize_t n = ::write(fd_, buf_ + done, len_ - done);
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        len_ = 0;
    }

private:
    void put(char c) {
        if (len_ < sizeof buf_) buf_[len_++] = c;
    }
    int fd_;
    std::size_t len_ = 0;
    char buf_[512];
};

}  // namespace hm::print
