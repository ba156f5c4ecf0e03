/** `METHOD /path/:param` of every route in Fastify's printRoutes tree (commonPrefix: false). */
export function registeredRoutes(tree: string): Array<{ method: string; path: string }> {
  const routes: Array<{ method: string; path: string }> = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const found = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!found) continue;
    const depth = found[1]!.length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + found[2]!;
    stack[depth] = path;
    for (const method of found[3]?.split(',').map((m) => m.trim()) ?? []) routes.push({ method, path });
  }
  return routes;
}
