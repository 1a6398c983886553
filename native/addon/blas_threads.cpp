#include "blas_threads.h"

#include <dlfcn.h>

#include <initializer_list>

namespace poser_addon {

bool set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  static SetThreads set = [] () -> SetThreads {
    // Only a library libtorch already loaded (RTLD_NOLOAD): never load a BLAS here.
    for (const char* name : {"libopenblas.so.0", "libblas.so.3"}) {
      void* handle = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
      if (!handle) continue;
      auto fn = reinterpret_cast<SetThreads>(dlsym(handle, "openblas_set_num_threads"));
      if (fn) return fn;
    }
    return nullptr;
  }();
  if (!set) return false;
  set(threads);
  return true;
}

}  // namespace poser_addon
