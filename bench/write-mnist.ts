// Writes the digits bench/full-job-engine.ts trains on for bench/torch_full_job.py (raw float32/int32).
//   tsx bench/write-mnist.ts [DIR]   (default: $TMPDIR/distill-bench-mnist)
import os from 'node:os';
import { join } from 'node:path';
import { loadMnist, writeData } from './full-job.js';

const dir = process.argv[2] ?? join(os.tmpdir(), 'distill-bench-mnist');
writeData(dir, loadMnist());
console.log(dir);
