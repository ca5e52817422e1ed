// Daemons the dispatcher starts itself (SPEC P5): N copies of a server command, each on its own address and port,
// restarted with backoff when one dies, stopped (the whole process group) when the dispatcher stops. Owns: those
// child processes. Health is the monitors' (a copy that runs but does not answer is judged by them); a copy that
// exited is reported at once.
import { spawn, type ChildProcess } from 'node:child_process';

export interface SpawnSpec {
  /** The daemon it runs: "address:port". */
  key: string;
  /** The command with {address} and {port} already replaced; run by /bin/sh. */
  command: string;
}

export interface SpawnStatus {
  key: string;
  command: string;
  pid: number | null;
  state: 'running' | 'restarting' | 'stopped';
  restarts: number;
  /** How the last copy ended ("exit 1", "signal SIGKILL"), or null. */
  lastExit: string | null;
  startedAt: number | null;
}

/** Restart delays: 1 s, doubling to 30 s; a copy that ran for STABLE_MS starts the sequence again. */
const BACKOFF_MS = [1000, 2000, 4000, 8000, 16000, 30000];
const STABLE_MS = 10_000;
/** How long a copy has after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3000;

interface Copy {
  spec: SpawnSpec;
  child: ChildProcess | null;
  status: SpawnStatus;
  failures: number;
  timer: NodeJS.Timeout | null;
  stopping: boolean;
}

export class Spawner {
  private readonly copies = new Map<string, Copy>();

  constructor(
    private readonly onRunning: (key: string, running: boolean) => void,
    private readonly log: (level: 'info' | 'warn', fields: object, msg: string) => void,
  ) {
    // A supervisor that exits without stopping (a failed start, a crash) must not leave its daemons behind.
    process.once('exit', this.killAll);
  }

  private readonly killAll = (): void => {
    for (const c of this.copies.values()) {
      if (c.child?.pid !== undefined) { try { process.kill(-c.child.pid, 'SIGKILL'); } catch { /* gone */ } }
    }
  };

  /** Run exactly `specs`: new ones start, removed ones stop, one whose command changed is restarted. */
  async apply(specs: readonly SpawnSpec[]): Promise<void> {
    const wanted = new Map(specs.map((s) => [s.key, s]));
    const stops: Promise<void>[] = [];
    for (const [key, c] of this.copies) {
      if (wanted.get(key)?.command === c.spec.command) continue;
      this.copies.delete(key);
      stops.push(this.stop(c));
    }
    await Promise.all(stops);
    for (const spec of specs) {
      if (this.copies.has(spec.key)) continue;
      const c: Copy = { spec, child: null, failures: 0, timer: null, stopping: false, status: { key: spec.key, command: spec.command, pid: null, state: 'restarting', restarts: 0, lastExit: null, startedAt: null } };
      this.copies.set(spec.key, c);
      this.start(c);
    }
  }

  status(): SpawnStatus[] {
    return [...this.copies.values()].map((c) => ({ ...c.status }));
  }

  /** Whether the copy for daemon `key` runs now (true for daemons it does not run). */
  running(key: string): boolean {
    const c = this.copies.get(key);
    return c === undefined || c.status.state === 'running';
  }

  async close(): Promise<void> {
    const all = [...this.copies.values()];
    this.copies.clear();
    process.off('exit', this.killAll);
    await Promise.all(all.map((c) => this.stop(c)));
  }

  private start(c: Copy): void {
    c.timer = null;
    // Its own process group, so that stopping it also stops what the shell started.
    const child = spawn('/bin/sh', ['-c', c.spec.command], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString('utf8')).slice(-500); });
    c.child = child;
    c.status = { ...c.status, pid: child.pid ?? null, state: 'running', startedAt: Date.now() };
    child.once('error', (e) => this.log('warn', { daemon: c.spec.key, err: e.message }, 'spawned daemon could not start'));
    child.once('exit', (code, signal) => {
      c.child = null;
      const lastExit = signal ? `signal ${signal}` : `exit ${code}`;
      const ran = Date.now() - (c.status.startedAt ?? 0);
      c.status = { ...c.status, pid: null, lastExit, state: c.stopping ? 'stopped' : 'restarting' };
      if (c.stopping) return;
      this.onRunning(c.spec.key, false);
      c.failures = ran >= STABLE_MS ? 0 : c.failures + 1;
      const delay = BACKOFF_MS[Math.min(c.failures, BACKOFF_MS.length - 1)]!;
      this.log('warn', { daemon: c.spec.key, lastExit, ranMs: ran, restartInMs: delay, stderr: stderr.trim().slice(-200) }, 'spawned daemon exited; restarting');
      c.status.restarts++;
      c.timer = setTimeout(() => this.start(c), delay);
      c.timer.unref();
    });
    this.log('info', { daemon: c.spec.key, pid: child.pid, command: c.spec.command }, 'spawned daemon started');
    this.onRunning(c.spec.key, true);
  }

  private async stop(c: Copy): Promise<void> {
    c.stopping = true;
    if (c.timer) clearTimeout(c.timer);
    const child = c.child;
    if (!child || child.pid === undefined) { c.status.state = 'stopped'; return; }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const signal = (sig: NodeJS.Signals): void => { try { process.kill(-child.pid!, sig); } catch { /* gone already */ } };
    signal('SIGTERM');
    const kill = setTimeout(() => signal('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(kill);
    signal('SIGKILL'); // anything the shell left behind in its group
  }
}
