// lock.hpp: one lock around what the threads share, and what fork needs of it.
#pragma once

#include <pthread.h>

namespace hm {

// ---- the heap lock --------------------------------------------------------------
//
// From stage 15 a thread's small blocks need no lock (pages.hpp); this lock
// guards what every thread shares: the break heap and its bins, the
// mappings, and the pages' empty pages, segments and abandoned heaps. It is
// held for a call on those, never across a call that may need it again.
inline constinit pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;

// ---- fork -----------------------------------------------------------------------
//
// fork() copies only the calling thread. Had another thread held the lock at
// that moment, the child's copy of the lock would stay held forever and the
// child's first malloc would hang. So fork takes the lock first (the
// "prepare" handler), and both processes let it go afterwards: the child
// starts with a heap that no thread was halfway through changing.
//
// The threads' own heaps (stage 15) take no lock, so another thread may be
// halfway through changing its heap when fork copies it. The child has only
// the forking thread, so nothing ever works on those heaps again: their
// pages stay as they were, and a block of theirs the child frees goes onto
// the heap's list of remote frees (an atomic push, whole at every instant),
// which no thread drains. The child's own heap is the forking thread's,
// which was not inside a call. (A child leaks those pages; most children
// soon exec.)
//
// Other libraries' fork handlers may allocate. pthread_atfork runs the
// prepare handlers in the reverse order of registration, so one registered
// before ours runs after ours, while the forking thread already holds the
// lock; the parent and child handlers run in registration order, so one
// registered before ours runs before ours has let the lock go. Taking the
// lock again there would hang the thread on itself. So the thread that holds the
// lock for fork notes it, and its calls go straight in until fork is done:
// it holds the lock, no other thread can be inside.
inline constinit thread_local bool holding_for_fork __attribute__((tls_model("initial-exec"))) = false;

inline void lock_before_fork() {
    pthread_mutex_lock(&heap_lock);
    holding_for_fork = true;
}
inline void unlock_in_parent() {
    holding_for_fork = false;
    pthread_mutex_unlock(&heap_lock);
}
// The child has one thread, a copy of the one that forked and held the lock.
inline void unlock_in_child() {
    holding_for_fork = false;
    heap_lock = PTHREAD_MUTEX_INITIALIZER;
}

// The handlers are registered once, when the library is loaded (the ELF
// constructor in api.cpp): before main, so before any thread of the program
// can fork. pthread_atfork may call malloc; that is fine, the heap works
// before any constructor has run (every global is constinit).
inline void register_fork_handlers() { pthread_atfork(lock_before_fork, unlock_in_parent, unlock_in_child); }

// Holds the heap lock for as long as it lives (unless this thread already
// holds it for fork).
class LockGuard {
public:
    LockGuard() : locked_(!holding_for_fork) {
        if (locked_) pthread_mutex_lock(&heap_lock);
    }
    ~LockGuard() {
        if (locked_) pthread_mutex_unlock(&heap_lock);
    }
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;

private:
    bool locked_;
};

}  // namespace hm
