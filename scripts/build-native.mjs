// `npm install`/`npm ci` hook: builds the native addons of binding.gyp with one node-gyp run: the batched UDP
// transport (native/udp_batch.c) and read-only file mappings (native/map_file.c).
// A failed build is not fatal: each missing addon has a fallback (slower or larger, same answers), named below and
// said again by the server when it starts.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';

/** Each addon node-gyp builds, with what the server does without it. */
const addons = [
  { file: 'build/Release/waymark_udp.node', source: 'native/udp_batch.c', fallback: 'UDP will use node:dgram, which is slower' },
  {
    file: 'build/Release/waymark_map.node',
    source: 'native/map_file.c',
    fallback: 'each worker will read its own copy of the snapshot file instead of sharing one mapping (more memory)',
  },
];

function warnAll(why) {
  for (const a of addons) console.warn(`waymark: ${why}; ${a.source} is not built and ${a.fallback}`);
}

if (process.platform !== 'linux') {
  warnAll('the native addons are Linux-only');
  process.exit(0);
}
// npm gives lifecycle scripts the node-gyp it ships; outside npm, look beside npm itself.
const candidates = [
  process.env.npm_config_node_gyp,
  process.env.npm_execpath && path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter((p) => typeof p === 'string' && p.length > 0 && fs.existsSync(p));
if (candidates.length === 0) {
  warnAll('node-gyp not found');
  process.exit(0);
}
// make -k: an addon that fails to compile must not stop the other from being built (make stops at the first error).
const env = { ...process.env, MAKEFLAGS: `${process.env.MAKEFLAGS ?? ''} -k`.trim() };
const r = spawnSync(process.execPath, [candidates[0], 'rebuild', '--release'], { stdio: 'inherit', env });
// `rebuild` starts from a clean build/, so an addon present now was built by this run.
for (const a of addons) {
  if (!fs.existsSync(a.file)) console.warn(`waymark: ${a.source} was not built (see the errors above); ${a.fallback}`);
}
if (r.status !== 0 && addons.every((a) => fs.existsSync(a.file))) console.warn('waymark: node-gyp reported a failure (see above)');
process.exit(0);
