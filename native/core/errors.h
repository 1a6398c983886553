// Error type of the native core. Every failure that reaches the addon carries a
// stable machine-readable code next to a message written for the user.
#pragma once

#include <stdexcept>
#include <string>

namespace poser {

// Every code, in the order of PoserErrorCode in src/errors.ts (a test compares
// the two lists):
//   E_IO           file missing, unreadable, rename failed
//   E_FORMAT       malformed safetensors / index / config
//   E_DTYPE        unknown or unsupported dtype
//   E_SHAPE        tensor shape disagrees with the config or the request
//   E_UNSUPPORTED  valid input that asks for a computation not implemented (e.g. a rope type, a GGUF tensor type)
//   E_ARG          a request argument is invalid
//   E_DEVICE       device unavailable (e.g. CUDA not compiled in)
//   E_STATE        call not valid in the current state (e.g. no optimizer)
//   E_TORCH        an error raised inside libtorch
//   E_DISPOSED     the model was disposed
//   E_MEMORY       an allocation failed
//   E_NATIVE       any other native failure
//   E_BINDING      the addon could not be found or loaded (raised in TypeScript)
inline constexpr const char* kErrorCodes[] = {"E_IO",    "E_FORMAT", "E_DTYPE",    "E_SHAPE",  "E_UNSUPPORTED",
                                              "E_ARG",   "E_DEVICE", "E_STATE",    "E_TORCH",  "E_DISPOSED",
                                              "E_MEMORY", "E_NATIVE", "E_BINDING"};

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

}  // namespace poser
