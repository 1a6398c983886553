// glibc's malloc returns large freed blocks to the kernel: blocks above its
// mmap threshold are unmapped on free, and the top of the heap is trimmed
// past 128 KiB. A forward allocates and frees the same activation-sized
// blocks on every call, so each call then faults fresh zeroed pages back in:
// on the zoo's organism shape (32 x 96 tokens) about 26 MB of page faults per
// forward, a fifth of its CPU time spent in the kernel. Keeping freed blocks
// in the heap makes the process hold its peak working set instead.
#pragma once

namespace poser {

// Serves blocks up to 32 MiB (glibc's largest mmap threshold) from the heap
// and keeps up to 1 GiB of freed heap before trimming. Returns false where
// the C library is not glibc or refused the setting; calling it again is harmless.
bool keep_freed_memory();

}  // namespace poser
