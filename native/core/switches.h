// Environment switches that are on unless set to "0" (POSER_FUSED_KERNELS,
// POSER_FUSED_TRAINING, POSER_SPLIT_ROWS, POSER_TRIM_LAST_BLOCK): each is read
// once per process by its caller, which keeps the result in a static.
#pragma once

#include <cstdlib>
#include <string>

namespace poser {

inline bool switch_on(const char* name) {
  const char* setting = std::getenv(name);
  return setting == nullptr || std::string(setting) != "0";
}

}  // namespace poser
