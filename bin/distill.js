#!/usr/bin/env node
// The installed entry point runs the compiled CLI (npm ci builds it); `npm run dev -- <command>` runs the sources.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('distill: dist/ is missing: run `npm run build` (npm ci does it for you)');
  process.exit(1);
}
await import(main.href);
