#!/usr/bin/env node
// `prisma generate` checks for the native schema-engine binary before it generates, and downloads it
// when missing, which fails on machines without access to Prisma's CDN. Generation never runs that
// binary, so where none is installed we point the CLI at a stand-in file (../shared/notes/prisma-offline.md).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const require = createRequire(import.meta.url);
  env.PRISMA_SCHEMA_ENGINE_BINARY = require.resolve('prisma/package.json');
}
if (!existsSync(env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  console.error(`PRISMA_SCHEMA_ENGINE_BINARY=${env.PRISMA_SCHEMA_ENGINE_BINARY} does not exist`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['node_modules/prisma/build/index.js', 'generate'], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
