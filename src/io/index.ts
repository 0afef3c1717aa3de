// SPDX-License-Identifier: MIT
// wg.io: reading and writing weights (safetensors) and checkpoints.
export {
  loadSafetensors, saveSafetensors, serializeSafetensors, parseSafetensors, parseSafetensorsHeader, encodeSafetensors,
  SafetensorsError, MAX_HEADER_BYTES,
  type HostTensor, type SafetensorsEntry, type SafetensorsHeader, type EncodeEntry, type SafetensorsDtype,
} from './safetensors.js';
