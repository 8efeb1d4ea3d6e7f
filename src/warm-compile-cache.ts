// Imports every module once, the ones loaded on demand too, so that Node's compile cache
// (NODE_COMPILE_CACHE) holds them all and the server never strips or compiles source at start.
// The Dockerfile runs it while building the image; the benchmark runs it the same way.
import { globSync } from 'node:fs';

const SKIP = new Set(['dev.ts', 'warm-compile-cache.ts']);

for (const file of globSync('**/*.ts', { cwd: import.meta.dirname })) {
  if (!SKIP.has(file)) await import(`./${file}`);
}
