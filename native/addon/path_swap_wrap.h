#pragma once

#include <napi.h>

namespace poser_addon {

// Synchronous (each is one or two syscalls); errors throw with `poserCode`.
// exchangePaths(a, b): atomic swap of two existing paths.
Napi::Value ExchangePaths(const Napi::CallbackInfo& info);
// lockPath(path) -> fd: non-blocking exclusive lock; E_STATE when held.
Napi::Value LockPath(const Napi::CallbackInfo& info);
// unlockPath(fd, path): removes the lock file and releases the lock.
Napi::Value UnlockPath(const Napi::CallbackInfo& info);

}  // namespace poser_addon
