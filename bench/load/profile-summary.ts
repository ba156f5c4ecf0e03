// `tsx bench/load/profile-summary.ts FILE.cpuprofile [top]`: where the API's CPU time went, by
// package (node_modules/<name>, our src/, node internals, GC, idle) and by function (self time).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/load/profile-summary.ts FILE.cpuprofile [top]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const top = Number(topArg ?? 25);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

function bucket(url: string, name: string): string {
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') return name;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (/\/src\//.test(url)) return `src/${url.split('/src/')[1]!.split('/')[0]}`;
  if (url.startsWith('node:') || url === '') return 'node internals';
  return url;
}

const packages = new Map<string, number>();
const functions = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  total += us;
  const b = bucket(url, functionName);
  packages.set(b, (packages.get(b) ?? 0) + us);
  const f = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(src|bench)\//, '$1/')}:${lineNumber + 1}`;
  functions.set(f, (functions.get(f) ?? 0) + us);
}
const busy = total - (packages.get('(idle)') ?? 0);
const pct = (us: number, of: number) => `${((100 * us) / of).toFixed(1)}%`.padStart(6);
process.stdout.write(`profile: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy\n\nby package (share of busy time):\n`);
process.stdout.on('error', () => process.exit(0));
for (const [name, us] of [...packages]
  .filter(([n]) => n !== '(idle)')
  .sort((a, b) => b[1] - a[1])
  .slice(0, top)) {
  process.stdout.write(`${pct(us, busy)}  ${(us / 1e6).toFixed(2).padStart(6)} s  ${name}\n`);
}
process.stdout.write('\nby function, self time (share of busy time):\n');
for (const [name, us] of [...functions]
  .filter(([n]) => !n.startsWith('(idle)'))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top)) {
  process.stdout.write(`${pct(us, busy)}  ${name}\n`);
}
