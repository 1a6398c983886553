// The addon's GGUF entry point: reading a file's metadata (models load through
// loadModel with format 'gguf').
#pragma once

#include <napi.h>

namespace poser_addon {

// readGguf(path, { arrays?: boolean | string[] }) -> Promise<{ version,
// alignment, dataOffset, metadata, types, tensors: [{ name, shape, type,
// offset, bytes }] }>
Napi::Value ReadGguf(const Napi::CallbackInfo& info);

}  // namespace poser_addon
