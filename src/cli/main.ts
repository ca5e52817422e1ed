#!/usr/bin/env node
// The `waymark` command line: serve, check, reload.
// Owns: argument parsing and exit codes; each command's work lives in its own module.
import cluster from 'node:cluster';
import fs from 'node:fs';
import { Command, Option } from 'commander';
import { serve, workerSource, loadSource, loadPersistedRecords, type ConfigSource } from './serve.js';
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
  if (!cluster.isPrimary) {
    const source = workerSource();
    if (!source) return 1;
    return serve(source, {});
  }
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
