// Error type of the native core. Every failure that reaches the addon carries a
// stable machine-readable code next to a message written for the user.
#pragma once

#include <stdexcept>
#include <string>

namespace poser {

// Codes (kept in sync with src/errors.ts):
//   E_IO           file missing, unreadable, rename failed
//   E_FORMAT       malformed safetensors / index / config
//   E_DTYPE        unknown or unsupported dtype
//   E_SHAPE        tensor shape disagrees with the config or the request
//   E_UNSUPPORTED  valid input that asks for a computation not implemented (e.g. a rope type, a GGUF tensor type)
//   E_ARG          a request argument is invalid
//   E_DEVICE       device unavailable (e.g. CUDA not compiled in)
//   E_STATE        call not valid in the current state (e.g. no optimizer)
//   E_TORCH        an error raised inside libtorch
class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

}  // namespace poser
