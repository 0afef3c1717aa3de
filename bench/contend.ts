// SPDX-License-Identifier: MIT
// A noisy neighbour on demand: a process that streams through two 128 MiB arrays until it
// is stopped, as another job on a shared host does. The project's machines have 2 cores and are
// shared; in busy phases some kernels lost up to half their speed while relu did not, and those
// phases came and went with the host. With this neighbour running (`--contend` in
// bench/norm-pool.ts) such a phase can be reproduced at will: one core's time and most of the
// memory bandwidth and shared cache go to the neighbour (a neighbour that only computes changed
// nothing measurable, fourteenth session), and a kernel that holds its ratio to the copy ceiling
// (and to relu) here should hold it on a busy host.

import { spawn } from 'node:child_process';

// The neighbour: copy one array into the other over and over, a memory-bound loop that evicts
// every cache level. A separate process, not a worker thread: timing.ts counts every thread of
// this process but the main one as the shader threads' CPU time.
const NEIGHBOUR = `
const a = new Float64Array(16 << 20).fill(1);
const b = new Float64Array(16 << 20);
for (;;) b.set(a);
`;

/** Starts the neighbour; the returned function stops it (and resolves once it has exited). */
export function startContention(): () => Promise<void> {
  const child = spawn(process.execPath, ['-e', NEIGHBOUR], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return async () => {
    child.kill('SIGKILL');
    await exited;
  };
}
