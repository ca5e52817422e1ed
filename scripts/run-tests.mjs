#!/usr/bin/env node
// Runs the compiled tests with Node's test runner. Node 20 does not expand globs itself, so the files are listed here.
// Usage: run-tests.mjs [--only DIR] [--exclude DIR] [--concurrency N] — DIR is a folder under dist/test (e.g. interop).
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const root = path.resolve('dist/test');
const only = opt('--only');
const exclude = opt('--exclude');
const concurrency = opt('--concurrency') ?? '2';

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith('.test.js') ? [p] : [];
  });
}

const files = walk(only ? path.join(root, only) : root)
  .filter((f) => !exclude || !path.relative(root, f).startsWith(exclude + path.sep))
  .sort();
if (files.length === 0) {
  console.error(`no test files found under ${root}${only ? '/' + only : ''}: run the build first`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
