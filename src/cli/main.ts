#!/usr/bin/env node
// The `waymark` command line: serve, check, reload, explain, member, prober; local state commands (token, apply,
// export); the commands that talk to a running server through its API are registered from client.ts.
// Owns: argument parsing and exit codes; each command's work lives in its own module.
import cluster from 'node:cluster';
import fs from 'node:fs';
import os from 'node:os';
import { runProberProcess } from './prober.js';
import { Command, Option } from 'commander';
import { serve } from '../supervisor/serve.js';
import { loadSource, loadPersistedRecords, loadAdminStates, storeSettings, nodeName, openStateStore, readSource, effectiveSource, exportSource, configRelative, type ConfigSource } from '../config/source.js';
import type { StateStore } from '../state/async.js';
import type { LoadedConfig } from '../config/load.js';
import type { AdminRecord } from '../state/store.js';
import { askControl, controlPaths } from '../supervisor/control.js';
import { memberKey } from '../answer/compile.js';
import { loadConfigFile } from '../config/load.js';
import { Responder } from '../dns/responder.js';
import { explain, formatExplanation, type Explanation, type ExplainRequest } from '../answer/explain.js';
import { formatErrors } from '../config/schema.js';
import { inFile } from '../config/errors.js';
import path from 'node:path';
import { canonicalName, encodeName, foldWire } from '../wire/name.js';
import { fetchZone } from '../dns/axfr-client.js';
import { parseTarget } from '../dns/notify.js';
import { renderZone } from '../dns/zonefile.js';
import { TsigKeyring, TSIG_ALGORITHMS, type TsigAlgorithm, type TsigKey } from '../wire/tsig.js';
import YAML from 'yaml';
import { fastYamlValue } from '../config/yaml.js';
import { supervisorHooks } from '../supervisor/serve.js';
import { newToken } from '../api/auth.js';
import { registerApiCommands } from './client.js';
import { registerDispatcherCommands } from './dispatcher.js';
import { Revisions, validateRaw } from '../config/revisions.js';
import { YamlLines, writeLines } from '../config/render.js';
import { inlineValue } from '../state/content.js';

// The REST API and dashboard start inside the serving supervisor when the configuration has `api:` (loaded only
// then: workers and other commands never pay for fastify).
supervisorHooks.push(async (sup) => {
  const api = sup.loaded().config.api;
  if (!api) return;
  if (!sup.store) throw new Error('api: is configured without store: add store: { path: ./data } (tokens, revisions and the audit log live in the store)');
  const { startApi } = await import('../api/server.js');
  await startApi(sup, api.listen);
});

/** Who runs a local command, and from where, as recorded in the audit log. */
const cliUser = (): string => process.env.USER || os.userInfo().username;
const cliActor = (): string => `cli:${cliUser()}`;
const cliOrigin = (): string => `cli ${cliUser()}@${os.hostname()}`;

/** The store of a configuration file, either backend (an SQLite store must belong to that file). */
async function storeOf(config: string, what = 'tokens'): Promise<StateStore> {
  const loaded = loadConfigFile(config);
  if (!loaded.ok) throw new Error(formatErrors(loaded.errors));
  return storeOfLoaded(loaded.value, config, what);
}

async function storeOfLoaded(loaded: LoadedConfig, config: string, what: string): Promise<StateStore> {
  const settings = storeSettings(loaded);
  if (!settings) throw new Error(`${config} has no store: add store: { path: ./data } or store: { postgres: URL } (${what} live in the store)`);
  return (await openStateStore(settings, config, { node: nodeName(loaded) })).state;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function sourceFrom(opts: { config?: string; zone: string[]; listen: string[]; workers?: number }): ConfigSource {
  if (opts.config) return { kind: 'file', file: opts.config };
  if (opts.zone.length === 0) throw new Error('give --config FILE, or one or more --zone FILE');
  return { kind: 'zones', zones: opts.zone, listen: opts.listen.length > 0 ? opts.listen : ['127.0.0.1:5300'], workers: opts.workers };
}

const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`"${v}" is not a positive whole number`);
  return n;
};

/**
 * Explain against the running server of `config` (its control socket: live health, admin states, counters and
 * persistence), or, offline, from the configuration in force and the store, saying plainly what is assumed.
 */
async function explainFor(config: string, req: ExplainRequest, offline: boolean): Promise<Explanation> {
  // The running server first: found leniently, so an edited file not yet reloaded does not stop the question.
  const paths = serverLocation({ config }).paths;
  if (!offline) {
    const asked = await askControl(paths, { op: 'explain', request: req, file: path.resolve(config) });
    if (asked) {
      const r = asked.reply;
      if (!r.ok) throw new Error(`the running server (${asked.path}) could not explain: ${r.error}`);
      return r.explanation as Explanation;
    }
  }
  const src = effectiveSource({ kind: 'file', file: config });
  if (!src.ok) throw new Error(formatErrors(src.errors));
  const v = src.value.valid;
  const responder = new Responder(v.snapshot, 1232);
  loadPersistedRecords(v.loaded, responder);
  const admin = loadAdminStates(v.loaded);
  responder.engine?.applyAdmin(admin);
  const e = explain(responder, req);
  const why = offline ? '--offline' : paths.length > 0 ? `no server answered on ${paths.join(' or ')}` : `${config} has neither store: nor server.pidFile, so a running server cannot be asked`;
  e.state = {
    live: false,
    detail: `OFFLINE (${why}): every monitored member is ASSUMED UP and counters start at zero; admin states (${admin.length}) and persistence records are the store's. `
      + `For the live answer, run this while \`waymark serve --config ${config}\` runs, or ask its API: GET /v1/explain`,
  };
  return e;
}

/**
 * Where the running server of `--config FILE` or `--pid-file FILE` listens for control. Read leniently (only
 * store.path and server.pidFile), so a server can still be found when the edited file has errors of its own.
 */
function serverLocation(opts: { pidFile?: string; config?: string }): { paths: string[]; pidFile: string | null } {
  if (opts.pidFile) return { paths: controlPaths(null, opts.pidFile), pidFile: path.resolve(opts.pidFile) };
  if (!opts.config) throw new Error('give --config FILE (the configuration the server runs) or --pid-file FILE');
  let raw: { store?: { path?: unknown }; server?: { pidFile?: unknown } };
  try {
    const text = fs.readFileSync(opts.config, 'utf8');
    // The fast reader first: `yaml` takes seconds over a provider-sized file (see config/yaml.ts).
    raw = ((fastYamlValue(text)?.value ?? YAML.parse(text)) ?? {}) as typeof raw;
  } catch (e) {
    throw new Error(`${opts.config}: ${(e as Error).message.split('\n')[0]}; not reloaded (the server keeps its configuration)`);
  }
  const store = typeof raw.store?.path === 'string' ? configRelative(opts.config, raw.store.path) : null;
  const pidFile = typeof raw.server?.pidFile === 'string' ? configRelative(opts.config, raw.server.pidFile) : null;
  return { paths: controlPaths(store, pidFile), pidFile };
}

async function main(argv: string[]): Promise<number> {
  if (!cluster.isPrimary) return serve({ kind: 'zones', zones: [], listen: [] }, {}); // a worker: its config comes over IPC
  const program = new Command('waymark').description('Waymark: a DNS-based traffic manager').exitOverride();
  let exitCode = 0;

  program.command('serve')
    .description('serve DNS on the configured addresses')
    .option('-c, --config <file>', 'YAML configuration file')
    .option('-z, --zone <file>', 'master (zone) file to serve without a YAML config (repeatable)', collect, [])
    .option('-l, --listen <addr:port>', 'listen address with --zone, e.g. 127.0.0.1:5300 or [::1]:5300 (repeatable)', collect, [])
    .addOption(new Option('-w, --workers <n>', 'worker processes (default: config, else one per core)').argParser(positiveInt))
    .option('--pid-file <file>', 'write the supervisor pid here (for `waymark reload`)')
    .option('--adopt-store', 'take over a store that another configuration file fed (this file replaces that one)')
    .action(async (opts: { config?: string; zone: string[]; listen: string[]; workers?: number; pidFile?: string; adoptStore?: boolean }) => {
      exitCode = await serve(sourceFrom(opts), { workers: opts.workers, pidFile: opts.pidFile, adoptStore: opts.adoptStore });
    });

  program.command('check')
    .description('validate a configuration and its zone files; exit 1 on errors')
    .option('-c, --config <file>', 'YAML configuration file')
    .option('-z, --zone <file>', 'master (zone) file (repeatable)', collect, [])
    .action((opts: { config?: string; zone: string[] }) => {
      const loaded = loadSource(sourceFrom({ ...opts, listen: [] }));
      if (!loaded.ok) {
        process.stderr.write(`${formatErrors(inFile(loaded.errors, opts.config ?? null))}\n`);
        exitCode = 1;
        return;
      }
      const zones = loaded.value.snapshot.zones;
      process.stdout.write(`ok: ${zones.length} zone(s), ${zones.reduce((n, z) => n + z.image.nodeCount, 0)} name(s)\n`);
    });

  program.command('explain')
    .description('what would NAME return to a resolver (and client subnet), and why: asks the running server, else says what it assumes')
    .argument('<name>', 'the name asked')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .requiredOption('-r, --resolver <ip>', 'the resolver address asking')
    .option('-s, --subnet <cidr>', 'client subnet sent as EDNS Client Subnet')
    .addOption(new Option('-t, --type <type>', 'question type').choices(['A', 'AAAA']).default('A'))
    .option('--offline', 'do not ask a running server: explain from the configuration and the store alone')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { config: string; resolver: string; subnet?: string; type: 'A' | 'AAAA'; offline?: boolean; json?: boolean }) => {
      const req: ExplainRequest = { name, type: opts.type, resolver: opts.resolver, subnet: opts.subnet };
      const e = await explainFor(opts.config, req, opts.offline === true);
      process.stdout.write(opts.json ? `${JSON.stringify(e, null, 2)}\n` : `${formatExplanation(e)}\n`);
    });

  program.command('member')
    .description('force a member up, down or drain, or back to automatic (persists in the store across restarts)')
    .argument('<state>', 'up | down | drain | auto')
    .argument('<pool>', 'pool name')
    .argument('<member>', 'member address, or address:port')
    .requiredOption('-c, --config <file>', 'YAML configuration file (its store: path is used)')
    .option('--by <who>', 'who is changing it (recorded; default: your user name)')
    .action(async (state: string, pool: string, member: string, opts: { config: string; by?: string }) => {
      const by = opts.by ?? cliUser();
      if (!['up', 'down', 'drain', 'auto'].includes(state)) throw new Error(`state "${state}" must be up, down, drain or auto`);
      // Checked against the configuration in force (the current revision), which may have pools the file lacks.
      const src = effectiveSource({ kind: 'file', file: opts.config });
      if (!src.ok) throw new Error(formatErrors(src.errors));
      const v = src.value.valid;
      const pools = v.loaded.config.pools;
      const p = pools.find((x) => x.name === pool);
      if (!p) throw new Error(`no pool "${pool}" in the configuration in force (pools: ${pools.map((x) => x.name).join(', ')})`);
      if (!p.members.some((m) => memberKey(m) === member)) throw new Error(`pool "${pool}" has no member "${member}" (members: ${p.members.map(memberKey).join(', ')})`);
      const store = await storeOfLoaded(v.loaded, opts.config, 'admin states');
      try {
        const before = (await store.loadAdmin()).find((a) => a.pool === pool && a.member === member)?.state ?? 'auto';
        const at = Date.now();
        await store.setAdmin({ pool, member, state: state as AdminRecord['state'], by, at });
        await store.addAudit({ at, actor: `cli:${by}`, origin: cliOrigin(), action: 'member.state', target: `pools/${pool}/members/${member}`, before: { state: before }, after: { state } });
      } finally {
        await store.close();
      }
      process.stdout.write(`${pool}/${member}: ${state}\n`);
    });

  program.command('prober')
    .description('run monitoring work for a Waymark server (joins its distributor; SPEC H3)')
    .requiredOption('--join <url>', 'the distributor, e.g. http://127.0.0.1:8054; in a cluster every node\'s, comma-separated (the leader\'s answers)')
    .requiredOption('--token <token>', 'shared prober token (health.distributor.token); or WAYMARK_PROBER_TOKEN', process.env.WAYMARK_PROBER_TOKEN)
    .option('--name <name>', 'prober name (default: host name and pid)', `${os.hostname()}-${process.pid}`)
    .addOption(new Option('--capacity <n>', 'most targets this prober takes').argParser(positiveInt).default(1000))
    .action(async (opts: { join: string; token: string; name: string; capacity: number }) => {
      exitCode = await runProberProcess({ join: opts.join, token: opts.token, name: opts.name, capacity: opts.capacity });
    });

  const zoneCommand = program.command('zone').description('zones as other servers hold them');
  zoneCommand.command('import <zone>')
    .description('fetch a zone from another server by AXFR (RFC 5936) and print it as a master file (or write it to --out)')
    .requiredOption('--axfr <server>', 'the server to transfer from: host or host:port ([v6]:port)')
    .option('--key <key>', 'TSIG key: a name from --config\'s keys:, or algorithm:name:secret as dig -y takes it')
    .option('-c, --config <file>', 'the configuration whose keys: --key names')
    .option('-o, --out <file>', 'write the zone here instead of to stdout')
    .action(async (zone: string, opts: { axfr: string; key?: string; config?: string; out?: string }) => {
      const target = parseTarget(opts.axfr);
      if (target === null) throw new Error(`--axfr ${opts.axfr}: not an address with an optional port (127.0.0.1:5353, [::1]:53)`);
      const key = opts.key === undefined ? null : transferKey(opts.key, opts.config);
      const z = await fetchZone({ ...target, zone, key });
      const text = `; ${z.origin} as ${opts.axfr} sent it by AXFR at ${new Date().toISOString()}: serial ${z.serial}, ${z.records.length} records in ${z.messages} messages${key ? `, signed with key ${key.name}` : ''}\n${renderZone(z.origin, z.records)}`;
      if (opts.out !== undefined) {
        fs.writeFileSync(opts.out, text);
        process.stderr.write(`waymark: ${z.origin}: ${z.records.length} records (serial ${z.serial}) written to ${opts.out}\n`);
      } else process.stdout.write(text);
    });

  program.command('notify <zone>')
    .description('make a running server send NOTIFY for a zone to the secondaries its notify: lists, now; waits for their answers')
    .option('--pid-file <file>', 'pid file written by `waymark serve --pid-file`')
    .option('-c, --config <file>', 'the configuration the server runs (its store and server.pidFile locate the server)')
    .option('--json', 'print JSON')
    .action(async (zone: string, opts: { pidFile?: string; config?: string; json?: boolean }) => {
      const where = serverLocation(opts);
      const asked = await askControl(where.paths, { op: 'notify', zone: canonicalName(zone) }, 60_000);
      if (!asked) throw new Error(`no running server found (no control socket at ${where.paths.join(' or ') || '(none: give --config or --pid-file)'})`);
      const r = asked.reply;
      if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      if (!r.ok) {
        if (!opts.json) process.stderr.write(`waymark: ${r.error}\n`);
        exitCode = 1;
        return;
      }
      const outcomes = r.outcomes as Array<{ target: string; answered: boolean; rcode: number | null; attempts: number }>;
      if (!opts.json) for (const o of outcomes) process.stdout.write(`${o.target}: ${o.answered ? `answered (rcode ${o.rcode})` : 'no answer'} after ${o.attempts} attempt${o.attempts === 1 ? '' : 's'}\n`);
      if (outcomes.some((o) => !o.answered)) exitCode = 1;
    });

  program.command('reload')
    .description('make a running server re-read its configuration; waits for the outcome and exits 1 with the errors if it was rejected')
    .option('--pid-file <file>', 'pid file written by `waymark serve --pid-file`')
    .option('-c, --config <file>', 'the configuration the server runs (its store and server.pidFile locate the server)')
    .option('--json', 'print JSON')
    .action(async (opts: { pidFile?: string; config?: string; json?: boolean }) => {
      const where = serverLocation(opts);
      const asked = await askControl(where.paths, { op: 'reload', ...(opts.config ? { file: path.resolve(opts.config) } : {}) });
      if (!asked) {
        // No control socket: a server of an older version. Signal it, and say that the outcome is unknown here.
        const pid = where.pidFile && fs.existsSync(where.pidFile) ? Number(fs.readFileSync(where.pidFile, 'utf8').trim()) : 0;
        if (!pid && where.paths.length === 0 && opts.config) {
          throw new Error(`${opts.config} has neither store: nor server.pidFile, so its server has no control socket to reach: add one of them (or send the server SIGHUP, whose outcome is only in its log)`);
        }
        if (!pid) throw new Error(`no running server found (no control socket at ${where.paths.join(' or ') || '(none: give --config or --pid-file)'})`);
        process.kill(pid, 'SIGHUP');
        throw new Error(`sent SIGHUP to pid ${pid}, but no control socket answered at ${where.paths.join(' or ')}: the outcome is only in the server's log`);
      }
      const r = asked.reply;
      if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      if (!r.ok) {
        if (!opts.json) process.stderr.write(`waymark: ${r.error}\n${(r.errors ?? []).join('\n')}\n`);
        exitCode = 1;
        return;
      }
      if (!opts.json) {
        const rev = r.revision === null ? '' : r.changed ? `; the file changed: revision ${String(r.revision)} is in force` : `; the file is unchanged since it was last applied: revision ${String(r.revision)} stays in force`;
        const z = r.zones as { reused: number; compiled: number } | undefined;
        const zones = z ? `; zones: ${z.compiled} compiled, ${z.reused} unchanged` : '';
        process.stdout.write(`reloaded: generation ${String(r.generation)}${rev}${zones}\n`);
        for (const w of (r.warnings as string[] | undefined) ?? []) process.stderr.write(`waymark: warning: ${w}\n`);
      }
    });

  registerApiCommands(program);
  registerDispatcherCommands(program);

  const token = program.command('token').description('API tokens, in the store of a configuration (no server needed)');
  token.command('create')
    .description('create a token with a role; it is printed once (only its SHA-256 is kept)')
    .requiredOption('-c, --config <file>', 'YAML configuration file (its store: path is used)')
    .addOption(new Option('--role <role>', 'what the token may do').choices(['read', 'operator', 'admin']).makeOptionMandatory())
    .option('--name <name>', 'a name for the token (recorded in the audit log as who did what)')
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; role: 'read' | 'operator' | 'admin'; name?: string; json?: boolean }) => {
      const store = await storeOf(opts.config);
      try {
        const { token: secret, hash } = newToken();
        const t = await store.addToken({ name: opts.name ?? `${process.env.USER ?? 'cli'}-${opts.role}`, role: opts.role, hash, createdAt: Date.now(), createdBy: cliActor() });
        await store.addAudit({ at: t.createdAt, actor: cliActor(), origin: cliOrigin(), action: 'token.create', target: `tokens/${t.id}`, before: null, after: { id: t.id, name: t.name, role: t.role } });
        if (opts.json) process.stdout.write(`${JSON.stringify({ id: t.id, name: t.name, role: t.role, token: secret }, null, 2)}\n`);
        else {
          process.stdout.write(`${secret}\n`);
          process.stderr.write(`token ${t.id} "${t.name}" (${t.role}) created; it is shown only this once\n`);
        }
      } finally {
        store.close();
      }
    });
  token.command('list')
    .description('list tokens (never their values)')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const store = await storeOf(opts.config);
      try {
        const tokens = (await store.listTokens()).map(({ hash: _hash, ...t }) => t);
        if (opts.json) process.stdout.write(`${JSON.stringify({ tokens }, null, 2)}\n`);
        else for (const t of tokens) process.stdout.write(`${t.id}\t${t.name}\t${t.role}\t${t.revokedAt ? `revoked ${new Date(t.revokedAt).toISOString()}` : 'active'}\n`);
      } finally {
        store.close();
      }
    });
  token.command('revoke')
    .description('revoke a token: requests with it are refused from now on')
    .argument('<id>', 'token id (from token list)')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .action(async (id: string, opts: { config: string }) => {
      const store = await storeOf(opts.config);
      try {
        const n = Number(id);
        const before = (await store.listTokens()).find((t) => t.id === n);
        if (!before || before.revokedAt !== null || !(await store.revokeToken(n, Date.now()))) throw new Error(`no active token ${id}`);
        await store.addAudit({ at: Date.now(), actor: cliActor(), origin: cliOrigin(), action: 'token.revoke', target: `tokens/${n}`, before: { id: n, name: before.name, role: before.role, revokedAt: null }, after: { id: n, revoked: true } });
        process.stdout.write(`token ${n} "${before.name}" revoked\n`);
      } finally {
        store.close();
      }
    });

  program.command('apply')
    .description("make FILE's declarative sections (zone files inlined) the configuration in force, as a new revision if they differ")
    .argument('<file>', 'YAML configuration (e.g. from `waymark export`)')
    .option('-c, --config <file>', 'take the store (and bootstrap sections) from this configuration instead of FILE')
    .option('-m, --comment <text>', 'recorded with the revision')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { config?: string; comment?: string; json?: boolean }) => {
      const src = readSource({ kind: 'file', file });
      if (!src.ok) throw new Error(`${file} has errors:\n${formatErrors(src.errors)}`);
      const home = opts.config ? readSource({ kind: 'file', file: opts.config }) : src;
      if (!home.ok) throw new Error(formatErrors(home.errors));
      const v = validateRaw(home.value.raw, home.value.baseDir, home.value.file);
      if (!v.ok) throw new Error(formatErrors(v.errors));
      const store = await storeOfLoaded(v.loaded, opts.config ?? file, 'revisions');
      try {
        const r = await new Revisions(store, home.value.bootstrap, home.value.baseDir).propose(src.value.declarative, {
          author: cliActor(), origin: cliOrigin(), file: path.resolve(file), source: 'apply', comment: opts.comment ?? `waymark apply ${path.basename(file)}`, action: 'config.apply', target: 'config',
        });
        if (!r.ok) throw new Error(`${file} has errors:\n${formatErrors(r.errors)}`);
        if (opts.json) process.stdout.write(`${JSON.stringify({ changed: r.changed, revision: r.revision.id }, null, 2)}\n`);
        else process.stdout.write(r.changed ? `revision ${r.revision.id} applied; a running server puts it in force within a second\n` : `unchanged: revision ${r.revision.id} is already this configuration\n`);
      } finally {
        store.close();
      }
    });

  program.command('export')
    .description('print the configuration in force (bootstrap sections from FILE, the rest from the current revision) as YAML that `waymark apply` accepts')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .action(async (opts: { config: string }) => {
      const src = await exportSource(opts.config);
      if (!src.ok) throw new Error(formatErrors(src.errors));
      const e = src.value;
      if (e.kind === 'file') {
        await writeLines(new YamlLines(null).document(Object.entries(e.raw)), process.stdout);
        return;
      }
      // Streamed from the store a part at a time: a configuration of any size is never all in memory here.
      try {
        const y = new YamlLines(e.store.load);
        const entries = function* (): Generator<[string, unknown]> {
          // The bootstrap sections are plain values: in encoded form (a "$" key escaped) like the rest.
          yield* Object.entries(e.bootstrap).map(([k, v]) => [k, inlineValue(v)] as [string, unknown]);
          yield* Object.entries(JSON.parse(e.root) as Record<string, unknown>);
        };
        await writeLines(y.document(entries()), process.stdout);
      } finally {
        await e.store.close();
      }
    });

  try {
    await program.parseAsync(argv);
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (err.code?.startsWith('commander.')) return err.exitCode ?? 1;
    process.stderr.write(`waymark: ${err.message ?? String(e)}\n`);
    return 1;
  }
  return exitCode;
}

main(process.argv).then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`waymark: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

/** A TSIG key for a transfer we ask for: `algorithm:name:secret`, or a name from the configuration's keys. */
function transferKey(spec: string, config: string | undefined): TsigKey {
  const parts = spec.split(':');
  if (parts.length === 3) {
    const [algorithm, name, secret] = parts as [string, string, string];
    if (!(algorithm in TSIG_ALGORITHMS)) throw new Error(`--key ${algorithm}:…: not an algorithm (${Object.keys(TSIG_ALGORITHMS).join(', ')})`);
    return new TsigKeyring([{ name, algorithm: algorithm as TsigAlgorithm, secret }]).find(foldWire(encodeName(name)))!;
  }
  if (config === undefined) throw new Error(`--key ${spec}: give --config (whose keys: has it) or write it as algorithm:name:secret`);
  const loaded = loadConfigFile(config);
  if (!loaded.ok) throw new Error(`${config}: configuration has errors:\n${formatErrors(loaded.errors)}`);
  const found = new TsigKeyring(loaded.value.config.keys ?? []).find(foldWire(encodeName(spec)));
  if (found === undefined) throw new Error(`--key ${spec}: ${config} has no such key under keys:`);
  return found;
}
