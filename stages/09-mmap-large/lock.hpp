// lock.hpp: one lock around the whole heap, and what fork needs of it.
#pragma once

#include <pthread.h>

#include <atomic>

namespace hm {

// ---- the heap lock --------------------------------------------------------------
//
// Every exported function holds this lock for its whole call: the list of
// blocks, their headers and the break are shared by every thread. One lock is
// the simplest correct answer; what it costs is that threads take turns.
inline constinit pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;

// ---- fork -----------------------------------------------------------------------
//
// fork() copies only the calling thread. Had another thread held the lock at
// that moment, the child's copy of the lock would stay held forever and the
// child's first malloc would hang. So fork takes the lock first, and both
// processes release it afterwards: the child starts with a heap that no
// thread was halfway through changing.
inline void lock_before_fork() { pthread_mutex_lock(&heap_lock); }
inline void unlock_after_fork() { pthread_mutex_unlock(&heap_lock); }

// The handlers are installed by the first call into the library, before it
// takes the lock, and not by a load-time constructor (the library has none).
// The flag is set before pthread_atfork runs, so should pthread_atfork ever
// call malloc, that call goes straight on instead of installing again.
inline constinit std::atomic<bool> fork_handlers_installed{false};

inline void install_fork_handlers() {
    if (fork_handlers_installed.load(std::memory_order_acquire)) return;
    if (fork_handlers_installed.exchange(true, std::memory_order_acq_rel)) return;
    pthread_atfork(lock_before_fork, unlock_after_fork, unlock_after_fork);
}

// Holds the heap lock for as long as it lives.
class LockGuard {
public:
    LockGuard() {
        install_fork_handlers();
        pthread_mutex_lock(&heap_lock);
    }
    ~LockGuard() { pthread_mutex_unlock(&heap_lock); }
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;
};

}  // namespace hm
