// `npx tsx bench/upload-memory.ts [--mb 500]`: the API process's resident memory while it receives one large
// upload (issue 15: "everything streams both ways, memory flat for a 500 MB object"). The API runs in its own
// process (bench/load/server.ts) with MAX_UPLOAD_BYTES raised; the bench sends a model upload whose weight file
// is --mb MB and samples the API's VmRSS (/proc/<pid>/status) every 20 ms from the request's start to its
// answer. The check child then refuses the model (its topology does not use the weights): what is measured is
// the API receiving and storing the bytes, not the check.
import { readFileSync } from 'node:fs';
import { startApiSandbox } from './load/api-sandbox.js';

const argv = process.argv.slice(2);
const MB = argv.includes('--mb') ? Number(argv[argv.indexOf('--mb') + 1]) : 500;
const MIB = 1024 ** 2;

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const { api, key, close } = await startApiSandbox('upmem', { MAX_UPLOAD_BYTES: String((MB + 16) * MIB) });
try {
  const values = Math.floor((MB * 1e6) / 4);
  const json = {
    format: 'layers-model',
    modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { units: 2, batch_input_shape: [null, 4] } }] } },
    weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'w', shape: [values], dtype: 'float32' }] }],
  };
  const form = new FormData();
  form.append('model.json', new Blob([JSON.stringify(json)]), 'model.json');
  form.append('weights', new Blob([new Uint8Array(values * 4).fill(1)]), 'weights.bin');
  await new Promise((r) => setTimeout(r, 500));
  const idle = rssMiB(api.pid);
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(api.pid))), 20);
  const started = Date.now();
  const response = await fetch(`${api.url}/v1/models`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
  const body = (await response.json().catch(() => ({}))) as { code?: string; reason?: string };
  clearInterval(sampler);
  console.log(
    `| a model upload with ${MB} MB of weights | ${response.status} ${body.reason ?? body.code ?? ''} | ${((Date.now() - started) / 1000).toFixed(1)} s | ${idle.toFixed(0)} MiB | ${peak.toFixed(0)} MiB | +${(peak - idle).toFixed(0)} MiB |`,
  );
} finally {
  await close();
}
