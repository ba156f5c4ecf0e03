#!/usr/bin/env node
// Removes from node_modules every package that no production path needs, reading package-lock.json: kept are the
// root's dependencies and optionalDependencies and, from each kept package, its dependencies, optionalDependencies
// and non-optional peerDependencies (links are followed to their folders). `npm prune --omit=dev` alone keeps the
// optional peers a package merely names (@prisma/client names Prisma's CLI and TypeScript: ~200 MB); --omit=optional
// would drop those but also real optional dependencies, such as a native addon and what it loads. Run in the folder
// of package-lock.json, after `npm prune --omit=dev`. Prints what it removed, in MB.
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const { packages } = JSON.parse(readFileSync('package-lock.json', 'utf8'));

/** Where Node would find `name` from the package at `from` (a lockfile path; '' is the root). */
function resolve(from, name) {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

const kept = new Set(['']);
const queue = [''];
while (queue.length) {
  const path = queue.pop();
  const entry = packages[path];
  const optionalPeers = entry.peerDependenciesMeta ?? {};
  const names = [
    ...Object.keys(entry.dependencies ?? {}),
    ...Object.keys(entry.optionalDependencies ?? {}),
    ...Object.keys(entry.peerDependencies ?? {}).filter((name) => !optionalPeers[name]?.optional),
  ];
  for (const name of names) {
    const found = resolve(path, name);
    if (!found || kept.has(found)) continue;
    kept.add(found);
    queue.push(found);
    // A link (a workspace or file: dependency) is followed to its folder, whose own dependencies count.
    const target = packages[found].link ? packages[found].resolved : undefined;
    if (target !== undefined && packages[target] && !kept.has(target)) {
      kept.add(target);
      queue.push(target);
    }
  }
}

const sizeMb = (dir) => Number(execFileSync('du', ['-sm', dir], { encoding: 'utf8' }).split('\t')[0]);
const before = sizeMb('node_modules');
let removed = 0;
for (const path of Object.keys(packages)) {
  if (!path.includes('node_modules/') || kept.has(path) || !existsSync(path) || !statSync(path).isDirectory()) continue;
  rmSync(path, { recursive: true, force: true });
  removed++;
}
console.log(`prune-production: removed ${removed} packages no production path needs (${before - sizeMb('node_modules')} MB)`);
