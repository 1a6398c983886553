export { writeSafetensorsF32, readSafetensorsHeader, type F32Tensor, type SafetensorsEntry } from './safetensors.js';
export { copyFileAtomic, writeFileAtomic } from './atomic.js';
export { replaceDirectory, type ReplaceDirectoryOptions } from './directory.js';
