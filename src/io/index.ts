export { writeSafetensorsF32, readSafetensorsHeader, type F32Tensor, type SafetensorsEntry } from './safetensors.js';
