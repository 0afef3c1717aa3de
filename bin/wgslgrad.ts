// SPDX-License-Identifier: MIT
// The `wgslgrad` command line (train, eval, info, bench, demo). Filled in by the trainer work.
import * as wg from '../src/index.js';

const info = await wg.init();
console.log(JSON.stringify(info, null, 2));
wg.close();
