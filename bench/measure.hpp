// bench/measure.hpp: what the bench tools measure about their own process.
//
// Not part of any lesson. Used by bench/replay.cpp and bench/threads.cpp;
// nothing here calls malloc (the allocator under test may be the process's
// malloc), so /proc is read with open/read into buffers on the stack.
//
//  - wall time: CLOCK_MONOTONIC.
//  - memory: VmRSS and VmHWM from /proc/self/status; the peak (VmHWM) is
//    reset to the current RSS by writing "5" to /proc/self/clear_refs, so a
//    run's peak starts from what the tool itself already holds.
//  - instructions: perf_event_open for user-space instructions, where the
//    machine offers the counter (many virtual machines do not).
//  - calls to the OS: a seccomp filter marks mmap, munmap, mremap, madvise,
//    mprotect and brk, and a ptrace parent counts them (OsCallCounter). This
//    slows each such call a little, so the bench counts in a run of its own,
//    never in a timed one.
#pragma once

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/perf_event.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hm::bench {

// ---- time -------------------------------------------------------------------------

inline double now_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// ---- memory -------------------------------------------------------------------------

struct Resident {
    std::size_t rss = 0;  // bytes resident now
    std::size_t hwm = 0;  // the most bytes resident since the last reset_peak()
};

// The value in kB of `key` ("VmRSS:") in a /proc status text, in bytes.
inline std::size_t status_field(const char* text, const char* key) {
    const char* at = std::strstr(text, key);
    if (at == nullptr) return 0;
    at += std::strlen(key);
    while (*at == ' ' || *at == '\t') ++at;
    std::size_t kb = 0;
    while (*at >= '0' && *at <= '9') kb = kb * 10 + static_cast<std::size_t>(*at++ - '0');
    return kb * 1024;
}

inline Resident read_resident() {
    char text[4096];
    Resident r;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return r;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return r;
    text[n] = '\0';
    r.rss = status_field(text, "VmRSS:");
    r.hwm = status_field(text, "VmHWM:");
    return r;
}

// True if the kernel reset the peak; if not, the peak includes whatever the
// process held before.
inline bool reset_peak() {
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok;
}

// ---- instructions ------------------------------------------------------------------

// User-space instructions of this thread (and threads it creates later),
// from the CPU's counter. Not every machine has one: then available() is false.
class InstructionCounter {
public:
    InstructionCounter() {
        perf_event_attr attr{};
        attr.type = PERF_TYPE_HARDWARE;
        attr.size = sizeof attr;
        attr.config = PERF_COUNT_HW_INSTRUCTIONS;
        attr.disabled = 1;
        attr.exclude_kernel = 1;
        attr.exclude_hv = 1;
        attr.inherit = 1;
        fd_ = static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
    }
    ~InstructionCounter() {
        if (fd_ >= 0) close(fd_);
    }
    InstructionCounter(const InstructionCounter&) = delete;
    InstructionCounter& operator=(const InstructionCounter&) = delete;

    bool available() const { return fd_ >= 0; }
    void start() {
        if (fd_ < 0) return;
        ioctl(fd_, PERF_EVENT_IOC_RESET, 0);
        ioctl(fd_, PERF_EVENT_IOC_ENABLE, 0);
    }
    // The count since start(), or 0 if there is no counter.
    std::uint64_t stop() {
        if (fd_ < 0) return 0;
        ioctl(fd_, PERF_EVENT_IOC_DISABLE, 0);
        std::uint64_t count = 0;
        if (read(fd_, &count, sizeof count) != static_cast<ssize_t>(sizeof count)) return 0;
        return count;
    }

private:
    int fd_ = -1;
};

// ---- calls to the OS -------------------------------------------------------------
//
// Usage: OsCallCounter::fork_and_trace() early in main. It returns in the
// child (the run to measure) and never in the parent, which counts and then
// exits with the child's status (it returns at once, untraced, if fork fails). The child calls begin() just before the
// part to measure and end() just after it; only calls in between count.
// The parent prints its counts, as "os_*=" lines, after the child has exited.

enum OsCall { OS_MMAP, OS_MUNMAP, OS_MREMAP, OS_MADVISE, OS_MPROTECT, OS_BRK, OS_CALLS, OS_END_MARK = OS_CALLS };
inline constexpr const char* OS_CALL_NAME[OS_CALLS] = {"mmap", "munmap", "mremap", "madvise", "mprotect", "brk"};

class OsCallCounter {
public:
    static void fork_and_trace() {
        pid_t child = fork();
        if (child < 0) return;  // nothing is counted; the run goes on untraced
        if (child == 0) {
            // If this machine does not let a process trace its child, the
            // run goes on untraced and the parent reports no counts.
            if (ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0) {
                raise(SIGSTOP);
                active_ = true;
            }
            return;
        }
        trace(child);  // never returns
    }

    static bool active() { return active_; }

    // From here on the marked calls stop the child for the parent to count.
    static bool begin() {
        if (!active_) return false;
        constexpr unsigned ARCH =
#if defined(__x86_64__)
            AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
            AUDIT_ARCH_AARCH64;
#else
#error "OsCallCounter: unknown architecture"
#endif
        constexpr int watched[OS_CALLS + 1] = {SYS_mmap, SYS_munmap, SYS_mremap, SYS_madvise,
                                               SYS_mprotect, SYS_brk, SYS_getppid};
        sock_filter program[5 + 2 * (OS_CALLS + 1)];
        unsigned n = 0;
        program[n++] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
        program[n++] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0);
        program[n++] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        program[n++] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
        for (int i = 0; i <= OS_CALLS; ++i) {
            program[n++] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(watched[i]), 0, 1);
            program[n++] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | static_cast<unsigned>(i));
        }
        program[n++] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        sock_fprog prog{static_cast<unsigned short>(n), program};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
        return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
    }

    // Tells the parent to stop counting: getppid is marked as the end.
    static void end() {
        if (active_) syscall(SYS_getppid);
    }

private:
    static inline constinit bool active_ = false;

    [[noreturn]] static void trace(pid_t child) {
        int status = 0;
        if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) finish(status, nullptr);
        ptrace(PTRACE_SETOPTIONS, child, nullptr,
               reinterpret_cast<void*>(PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE));
        ptrace(PTRACE_CONT, child, nullptr, nullptr);
        unsigned long counts[OS_CALLS] = {};
        bool counting = true;
        for (;;) {
            pid_t who = waitpid(-1, &status, __WALL);
            if (who < 0) finish(status, counting ? nullptr : counts);
            if (WIFEXITED(status) || WIFSIGNALED(status)) {
                if (who == child) finish(status, counting ? nullptr : counts);
                continue;
            }
            if (!WIFSTOPPED(status)) continue;
            int event = status >> 16;
            int signal = 0;
            if (event == PTRACE_EVENT_SECCOMP) {
                unsigned long which = 0;
                ptrace(PTRACE_GETEVENTMSG, who, nullptr, &which);
                if (which == OS_END_MARK) {
                    counting = false;
                } else if (counting && which < OS_CALLS) {
                    ++counts[which];
                }
            } else if (event == 0 && WSTOPSIG(status) != SIGSTOP && WSTOPSIG(status) != SIGTRAP) {
                signal = WSTOPSIG(status);  // a real signal: deliver it
            }
            ptrace(PTRACE_CONT, who, nullptr, reinterpret_cast<void*>(static_cast<long>(signal)));
        }
    }

    // `counts` is null when the child never reached end(): nothing was
    // counted, or not the whole of the measured part.
    [[noreturn]] static void finish(int status, const unsigned long* counts) {
        std::fflush(stdout);
        if (counts == nullptr) {
            std::printf("os_counted=0\n");
        } else {
            unsigned long total = 0;
            for (int i = 0; i < OS_CALLS; ++i) {
                std::printf("os_%s=%lu\n", OS_CALL_NAME[i], counts[i]);
                total += counts[i];
            }
            std::printf("os_counted=1\nos_calls=%lu\n", total);
        }
        std::fflush(stdout);
        if (WIFSIGNALED(status)) {
            signal(WTERMSIG(status), SIG_DFL);
            raise(WTERMSIG(status));
        }
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
    }
};

}  // namespace hm::bench
