// tests/atfork_first.cpp: a program whose fork handler allocates and was
// registered BEFORE the stage's (thread.fork_handler_registered_first_allocates).
//
//   build/tests/atfork-first build/07/libhmalloc.so
//
// It registers its handlers, then loads the stage with dlopen (a stage that
// registers its own handlers when it is loaded does so after ours), makes a
// first call into it, and forks. pthread_atfork runs prepare handlers in
// the reverse order of registration, so ours runs after the stage's prepare
// has taken its lock; the parent and child handlers run in registration
// order, before the stage lets the lock go. Each of ours allocates from the
// stage. Exit 0 when the fork and the child's allocation work; a hang is
// ended by alarm() (SIGALRM), so the suite can tell it from a failure.
// Not run with the stage preloaded (the suite clears LD_PRELOAD): then the
// stage would be loaded, and register, before this program's main.
#include <dlfcn.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

namespace {

void* (*stage_malloc)(std::size_t) = nullptr;
void (*stage_free)(void*) = nullptr;

void say(const char* what) {
    ssize_t ignored = ::write(2, what, std::strlen(what));
    (void)ignored;
}

void allocate_in_handler() {
    void* p = stage_malloc(100);
    if (p == nullptr) {
        say("atfork-first: hmalloc in a fork handler returned NULL\n");
        _exit(3);
    }
    std::memset(p, 0x5a, 100);
    stage_free(p);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        say("usage: atfork-first STAGE.so\n");
        return 2;
    }
    if (pthread_atfork(allocate_in_handler, allocate_in_handler, allocate_in_handler) != 0) return 2;
    void* stage = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (stage == nullptr) {
        say("atfork-first: cannot load the stage\n");
        return 2;
    }
    stage_malloc = reinterpret_cast<void* (*)(std::size_t)>(dlsym(stage, "hmalloc"));
    stage_free = reinterpret_cast<void (*)(void*)>(dlsym(stage, "hfree"));
    if (stage_malloc == nullptr || stage_free == nullptr) return 2;
    stage_free(stage_malloc(10));  // the first call into the stage
    ::alarm(3);                    // a hang ends as SIGALRM
    pid_t pid = ::fork();
    if (pid < 0) return 2;
    if (pid == 0) {
        void* q = stage_malloc(64);
        if (q != nullptr) stage_free(q);
        _exit(q != nullptr ? 0 : 1);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return 2;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
