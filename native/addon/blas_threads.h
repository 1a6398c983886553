// OpenBLAS's own thread count. libtorch's set_num_threads does not reach
// OpenBLAS (a pthreads build keeps a process-wide pool), so models trained at
// once on one thread each would still share one OpenBLAS pool: concurrent
// callers then contend for it and run several times slower than one after
// another. Found at run time, so that another BLAS (MKL, a reference BLAS)
// is simply left alone.
#pragma once

namespace poser_addon {

// Sets OpenBLAS's thread count if OpenBLAS is loaded; returns whether it was.
bool set_blas_threads(int threads);

}  // namespace poser_addon
