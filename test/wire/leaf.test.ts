// The layering of the two leaf libraries, read from their source: src/wire/ (the DNS message codec) and src/net/
// (address text and prefixes) import nothing from dns/ or above, so the dependency points one way only.
// wire/ may use net/ because net/ is itself a leaf (checked here too); neither may reach any other src/ folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The repository root: this file runs as dist/test/wire/leaf.test.js. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SRC = path.join(ROOT, 'src');
const PACKAGES = new Set(Object.keys((JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies));
const BUILTINS = new Set(builtinModules);

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Every module specifier in a file: static imports and re-exports, type-only ones, side-effect and dynamic imports. */
function specifiers(file: string): string[] {
  return ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

/** The npm package a bare specifier names ("dns-packet/types.js" → "dns-packet", "@scope/x/y" → "@scope/x"). */
function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Why `spec` in `file` breaks the leaf rule for a library allowed to reach `allowed` (folders under src/), or null. */
function violation(file: string, spec: string, allowed: readonly string[]): string | null {
  if (spec.startsWith('.') || spec.startsWith('/')) {
    const resolved = path.resolve(path.dirname(file), spec);
    const underSrc = path.relative(SRC, resolved);
    const folder = underSrc.split(path.sep)[0]!;
    return allowed.includes(folder) ? null : `imports ${spec} (${path.relative(ROOT, resolved)})`;
  }
  if (spec.startsWith('node:') || BUILTINS.has(spec)) return null;
  return PACKAGES.has(packageOf(spec)) ? null : `imports ${spec}, which is neither a node built-in nor a dependency`;
}

function violations(folder: string, allowed: readonly string[]): string[] {
  const files = sourceFiles(path.join(SRC, folder));
  assert.ok(files.length > 0, `no sources found under src/${folder}`);
  const out: string[] = [];
  for (const file of files) {
    for (const spec of specifiers(file)) {
      const why = violation(file, spec, allowed);
      if (why !== null) out.push(`${path.relative(ROOT, file)} ${why}`);
    }
  }
  return out;
}

test('D1: wire/ is a leaf library: it imports only node built-ins, npm dependencies, wire/ and the leaf net/', () => {
  assert.deepEqual(violations('wire', ['wire', 'net']), []);
});

test('D1: net/ is a leaf library: it imports only node built-ins, npm dependencies and net/', () => {
  assert.deepEqual(violations('net', ['net']), []);
});

test('D1: the leaf check sees every kind of import that would break the rule', () => {
  const file = path.join(SRC, 'wire', 'example.ts');
  assert.equal(violation(file, '../dns/lookup.js', ['wire']), 'imports ../dns/lookup.js (src/dns/lookup.js)');
  assert.equal(violation(file, '../net/address.js', ['wire']), 'imports ../net/address.js (src/net/address.js)');
  assert.equal(violation(file, '../../test/harness.js', ['wire']), 'imports ../../test/harness.js (test/harness.js)');
  assert.equal(violation(file, './name.js', ['wire']), null);
  assert.equal(violation(file, 'dns-packet/types.js', ['wire']), null);
  assert.equal(violation(file, 'node:net', ['wire']), null);
  assert.match(violation(file, 'left-pad', ['wire']) ?? '', /neither a node built-in nor a dependency/);
  const found = ts.preProcessFile("import type { A } from '../dns/a.js';\nexport { b } from '../answer/b.js';\nimport '../api/c.js';\nconst d = await import('../cli/d.js');", true, true);
  assert.deepEqual(found.importedFiles.map((f) => f.fileName), ['../dns/a.js', '../answer/b.js', '../api/c.js', '../cli/d.js']);
});
