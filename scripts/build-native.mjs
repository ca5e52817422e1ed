// `npm install`/`npm ci` hook: builds the batched UDP transport (native/udp_batch.c) with node-gyp.
// A failed build is not fatal: the server then uses Node's dgram (slower, same answers) and says so when it starts.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';

if (process.platform !== 'linux') {
  console.warn('waymark: the batched UDP transport is Linux-only; UDP will use node:dgram');
  process.exit(0);
}
// npm gives lifecycle scripts the node-gyp it ships; outside npm, look beside npm itself.
const candidates = [
  process.env.npm_config_node_gyp,
  process.env.npm_execpath && path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter((p) => typeof p === 'string' && p.length > 0 && fs.existsSync(p));
if (candidates.length === 0) {
  console.warn('waymark: node-gyp not found; the batched UDP transport is not built and UDP will use node:dgram');
  process.exit(0);
}
const r = spawnSync(process.execPath, [candidates[0], 'rebuild', '--release'], { stdio: 'inherit' });
if (r.status !== 0) {
  console.warn('waymark: building native/udp_batch.c failed (see above); UDP will use node:dgram, which is slower');
}
process.exit(0);
