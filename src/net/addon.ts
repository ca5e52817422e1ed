// Finding and loading one of the project's native addons (native/*.c, built into build/Release by `npm ci`).
// Owns: where the compiled addons are and why one is unavailable. Each user keeps its own fallback.
import { createRequire } from 'node:module';
import fs from 'node:fs';

/**
 * The addon `name` (build/Release/NAME.node), or null with the reason: not Linux (`notLinux` says what needs it),
 * not built, or not loadable.
 */
export function loadAddon<T>(name: string, notLinux: string): { addon: T | null; reason: string } {
  if (process.platform !== 'linux') return { addon: null, reason: notLinux };
  // dist/src/<folder>/ when compiled, src/<folder>/ otherwise; the addons sit in build/Release/ at the package root.
  const candidates = [`../../../build/Release/${name}.node`, `../../build/Release/${name}.node`].map((p) => new URL(p, import.meta.url));
  const found = candidates.find((u) => fs.existsSync(u));
  if (found === undefined) return { addon: null, reason: `build/Release/${name}.node is missing (run npm ci, or npm run install, with a C compiler)` };
  try {
    return { addon: createRequire(import.meta.url)(found.pathname) as T, reason: '' };
  } catch (e) {
    return { addon: null, reason: `cannot load ${found.pathname}: ${(e as Error).message}` };
  }
}
