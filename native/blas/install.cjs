// Builds the addon when npm installs it. Exits non-zero when it cannot (no OpenBLAS headers, no
// compiler): npm then drops this optional dependency and the engine trains on plain wasm.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const headers = ['/usr/include/cblas.h', '/usr/include/x86_64-linux-gnu/cblas.h', '/usr/include/aarch64-linux-gnu/cblas.h', '/usr/include/openblas/cblas.h'];
if (!headers.some((h) => existsSync(h))) {
  console.error('distill-blas: OpenBLAS headers not found (Debian: apt-get install libopenblas-dev); the engine will train on plain wasm');
  process.exit(1);
}
// npm hands its bundled node-gyp to install scripts; outside npm, look beside the node binary.
const gyp = process.env.npm_config_node_gyp || path.resolve(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
// Build against the headers installed with this node when they are there, instead of downloading them.
const prefix = path.resolve(path.dirname(process.execPath), '..');
const args = [gyp, 'rebuild'];
if (existsSync(path.join(prefix, 'include/node/common.gypi'))) args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: __dirname });
process.exit(r.status ?? 1);
