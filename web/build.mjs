#!/usr/bin/env node
// Builds the dashboard (web/src) into dist/web: index.html and, under assets/, one hashed JS bundle and one
// hashed CSS file, so the API can let browsers cache assets forever and index.html never. Run by `npm run build`.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const WEB = fileURLToPath(new URL('.', import.meta.url));
export const DASHBOARD_DIR = fileURLToPath(new URL('../dist/web/', import.meta.url));

/** Builds into `outDir` (default dist/web) and returns the asset names and the source files bundled (`inputs`). */
export async function buildDashboard({ outDir = DASHBOARD_DIR, minify = true } = {}) {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: `${WEB}src/main.ts` },
    outdir: `${outDir}assets`,
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    target: ['chrome111', 'firefox111', 'safari16.4'],
    minify,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
  const js = outputs.find((f) => f.endsWith('.js'));
  const css = outputs.find((f) => f.endsWith('.css'));
  if (!js || !css) throw new Error(`dashboard build produced ${outputs.join(', ')}: expected a .js and a .css`);
  const html = (await readFile(`${WEB}index.html`, 'utf8')).replace('{{js}}', js).replace('{{css}}', css);
  await writeFile(`${outDir}index.html`, html);
  return { js, css, inputs: Object.keys(result.metafile.inputs) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { js, css } = await buildDashboard();
  console.log(`dashboard built: dist/web/index.html, assets/${js}, assets/${css}`);
}
