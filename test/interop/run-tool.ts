// Running a third-party tool (dig, kdig, nsupdate, knsupdate, tsig-keygen, ddclient, faketime) for the interop
// tests: its exit code and output, stdin given when asked, bounded in time; a tool that is not installed is an error
// that says how to install it, never a skip.
import { execFile } from 'node:child_process';

/** What .ci/run installs (Debian packages). */
export const INSTALL_HINT = 'run .ci/run as root (it installs them), or: apt-get install -y bind9 bind9-dnsutils knot knot-dnsutils ddclient faketime';

/** Run `cmd` with `args` (and `input` on stdin); its exit code and stdout + stderr. */
export function runTool(cmd: string, args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: o.timeoutMs ?? 20_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new Error(`${cmd} is not installed: ${INSTALL_HINT}`));
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, out: `${stdout}\n${stderr}` });
    });
    if (o.input !== undefined) child.stdin!.end(o.input);
  });
}
