#!/usr/bin/env node
// The `waymark` command line: serve, check, reload.
// Owns: argument parsing and exit codes; each command's work lives in its own module.
import cluster from 'node:cluster';
import fs from 'node:fs';
import os from 'node:os';
import { runProberProcess } from './prober.js';
import { Command, Option } from 'commander';
import { serve, loadSource, loadPersistedRecords, storeDir, type ConfigSource } from './serve.js';
import { openStore, type AdminRecord } from '../state/store.js';
import { memberKey } from '../answer/compile.js';
import { compileSnapshot, parseConfigText, loadConfigFile } from '../config/load.js';
import { Responder } from '../dns/responder.js';
import { explain, formatExplanation } from '../answer/explain.js';
import { formatErrors } from '../config/schema.js';

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
    .action(async (opts: { config?: string; zone: string[]; listen: string[]; workers?: number; pidFile?: string }) => {
      exitCode = await serve(sourceFrom(opts), { workers: opts.workers, pidFile: opts.pidFile });
    });

  program.command('check')
    .description('validate a configuration and its zone files; exit 1 on errors')
    .option('-c, --config <file>', 'YAML configuration file')
    .option('-z, --zone <file>', 'master (zone) file (repeatable)', collect, [])
    .action((opts: { config?: string; zone: string[] }) => {
      const loaded = loadSource(sourceFrom({ ...opts, listen: [] }));
      const compiled = loaded.ok ? compileSnapshot(loaded.value, 0) : loaded;
      if (!compiled.ok) {
        process.stderr.write(`${formatErrors(compiled.errors)}\n`);
        exitCode = 1;
        return;
      }
      const zones = compiled.value.zones;
      process.stdout.write(`ok: ${zones.length} zone(s), ${zones.reduce((n, z) => n + z.nodes.size, 0)} name(s)\n`);
    });

  program.command('explain')
    .description('what would NAME return to a resolver (and client subnet), and why')
    .argument('<name>', 'the name asked')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .requiredOption('-r, --resolver <ip>', 'the resolver address asking')
    .option('-s, --subnet <cidr>', 'client subnet sent as EDNS Client Subnet')
    .addOption(new Option('-t, --type <type>', 'question type').choices(['A', 'AAAA']).default('A'))
    .option('--json', 'print JSON')
    .action((name: string, opts: { config: string; resolver: string; subnet?: string; type: 'A' | 'AAAA'; json?: boolean }) => {
      const loaded = loadConfigFile(opts.config);
      const compiled = loaded.ok ? compileSnapshot(loaded.value, 0) : loaded;
      if (!compiled.ok) {
        process.stderr.write(`${formatErrors(compiled.errors)}\n`);
        exitCode = 1;
        return;
      }
      const responder = new Responder(compiled.value, 1232);
      if (loaded.ok) loadPersistedRecords(loaded.value, responder);
      const e = explain(responder, { name, type: opts.type, resolver: opts.resolver, subnet: opts.subnet });
      process.stdout.write(opts.json ? `${JSON.stringify(e, null, 2)}\n` : `${formatExplanation(e)}\n`);
    });

  program.command('member')
    .description('force a member up, down or drain, or back to automatic (persists in the store across restarts)')
    .argument('<state>', 'up | down | drain | auto')
    .argument('<pool>', 'pool name')
    .argument('<member>', 'member address, or address:port')
    .requiredOption('-c, --config <file>', 'YAML configuration file (its store: path is used)')
    .option('--by <who>', 'who is changing it (recorded)', process.env.USER ?? 'cli')
    .action((state: string, pool: string, member: string, opts: { config: string; by: string }) => {
      if (!['up', 'down', 'drain', 'auto'].includes(state)) throw new Error(`state "${state}" must be up, down, drain or auto`);
      const loaded = loadConfigFile(opts.config);
      if (!loaded.ok) throw new Error(formatErrors(loaded.errors));
      const p = loaded.value.config.pools.find((x) => x.name === pool);
      if (!p) throw new Error(`no pool "${pool}" in ${opts.config} (pools: ${loaded.value.config.pools.map((x) => x.name).join(', ')})`);
      if (!p.members.some((m) => memberKey(m) === member)) throw new Error(`pool "${pool}" has no member "${member}" (members: ${p.members.map(memberKey).join(', ')})`);
      const dir = storeDir(loaded.value);
      if (!dir) throw new Error(`admin states persist in the store: add store: { path: ./data } to ${opts.config}`);
      const store = openStore(dir);
      try {
        store.setAdmin({ pool, member, state: state as AdminRecord['state'], by: opts.by, at: Date.now() });
      } finally {
        store.close();
      }
      process.stdout.write(`${pool}/${member}: ${state}\n`);
    });

  program.command('prober')
    .description('run monitoring work for a Waymark server (joins its distributor; SPEC H3)')
    .requiredOption('--join <url>', 'the distributor, e.g. http://127.0.0.1:8054')
    .requiredOption('--token <token>', 'shared prober token (health.distributor.token); or WAYMARK_PROBER_TOKEN', process.env.WAYMARK_PROBER_TOKEN)
    .option('--name <name>', 'prober name (default: host name and pid)', `${os.hostname()}-${process.pid}`)
    .addOption(new Option('--capacity <n>', 'most targets this prober takes').argParser(positiveInt).default(1000))
    .action(async (opts: { join: string; token: string; name: string; capacity: number }) => {
      exitCode = await runProberProcess({ join: opts.join, token: opts.token, name: opts.name, capacity: opts.capacity });
    });

  program.command('reload')
    .description('make a running server re-read its configuration (SIGHUP to its supervisor)')
    .option('--pid-file <file>', 'pid file written by `waymark serve --pid-file`')
    .option('-c, --config <file>', 'configuration whose server.pidFile names the pid file')
    .action((opts: { pidFile?: string; config?: string }) => {
      let pidFile = opts.pidFile;
      if (!pidFile && opts.config) {
        const parsed = parseConfigText(fs.readFileSync(opts.config, 'utf8'));
        if (parsed.ok) pidFile = parsed.value.server.pidFile;
      }
      if (!pidFile) throw new Error('give --pid-file, or --config with server.pidFile set');
      const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
      process.kill(pid, 'SIGHUP');
      process.stdout.write(`reload requested (pid ${pid})\n`);
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
