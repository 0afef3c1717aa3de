// SPDX-License-Identifier: MIT
import { WgslgradError } from '../tensor/errors.js';

/** A dataset could not be found, downloaded, verified or parsed. The message says what to do. */
export class DatasetError extends WgslgradError {}
