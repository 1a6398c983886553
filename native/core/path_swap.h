// Filesystem primitives for whole-directory atomic saves: swapping two paths
// in one step, and an advisory lock that dies with its owner.
#pragma once

#include <string>

namespace poser {

// Atomically exchanges two existing paths (Linux renameat2 RENAME_EXCHANGE):
// at every instant each name refers to one complete tree. Throws E_IO (naming
// the missing kernel or filesystem support where that is the cause).
void exchange_paths(const std::string& a, const std::string& b);

// Takes an exclusive lock on `path` (created if absent, the owner's pid
// written inside) without waiting. flock() locks are released by the kernel
// when the owner dies, so a killed saver never leaves a lock that blocks.
// Returns the descriptor holding the lock; throws E_STATE when another
// process (or another save in this one) holds it, E_IO when it cannot be made.
int lock_path(const std::string& path);

// Removes the lock file and releases the lock (unlink first, then close, so a
// waiter that opened the old file notices it was removed and retries).
void unlock_path(int fd, const std::string& path);

}  // namespace poser
