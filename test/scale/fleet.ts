import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { packageRoot } from '../../core/paths.js';

/** The built CLI, as `npx patchbay` runs it. */
export const cliPath = path.join(packageRoot, 'dist', 'core', 'cli', 'main.js');

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released), so a restarted server keeps its address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Extra arguments from the environment, split on spaces (PATCHBAY_CHAOS_WORKER_ARGS="--concurrency 2"). */
export const extraArgs = (name: string): string[] => (process.env[name] ?? '').split(/\s+/).filter(Boolean);

/**
 * One `patchbay serve` or `patchbay worker` process of a test's fleet: started, killed and started
 * again under the same name (and, for a server, the same port). Its stderr is kept (the last 200
 * lines) to say what it was doing when a test fails; an exit the test did not cause is recorded.
 */
export class FleetProcess {
  child: ChildProcess | undefined;
  /** Exits nobody asked for: "exit 1" or "signal SIGSEGV", with the last lines of stderr. */
  readonly unexpectedExits: string[] = [];
  readonly lines: string[] = [];
  starts = 0;
  private expectingExit = false;

  constructor(
    readonly name: string,
    readonly kind: 'server' | 'worker',
    private readonly args: readonly string[],
    private readonly env: NodeJS.ProcessEnv,
    /** The server's address (servers only). */
    readonly url?: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    this.starts++;
    this.expectingExit = false;
    const child = spawn(process.execPath, [cliPath, ...this.args], { cwd: packageRoot, env: this.env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let partial = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const complete = text.split('\n');
      partial = complete.pop() ?? '';
      this.lines.push(...complete.map((l) => `[${this.name}#${this.starts} ${new Date().toISOString().slice(11, 23)}] ${l}`));
      if (this.lines.length > 200) this.lines.splice(0, this.lines.length - 200);
    });
    child.once('exit', (code, signal) => {
      if (!this.expectingExit) this.unexpectedExits.push(`${this.name} (pid ${child.pid}) ended by itself: ${signal ? `signal ${signal}` : `exit ${code}`}\n${this.lines.slice(-15).join('\n')}`);
    });
  }

  /** Sends `signal` and waits for the process to end; returns its exit code (null when a signal ended it). */
  async stop(signal: NodeJS.Signals, timeoutMs = 30_000): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;
    this.expectingExit = true;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), timeoutMs).unref());
    const result = await Promise.race([exited, timer]);
    if (result === 'late') {
      child.kill('SIGKILL');
      throw new Error(`${this.name} did not end within ${timeoutMs} ms of ${signal}:\n${this.lines.slice(-15).join('\n')}`);
    }
    return result;
  }

  /** Waits until the server answers /readyz with 200 (servers), or the worker says where it works. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (!this.running) throw new Error(`${this.name} ended while starting:\n${this.lines.slice(-15).join('\n')}`);
      if (this.kind === 'server') {
        const ok = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
        if (ok) return;
      } else if (this.lines.some((l) => l.includes(`[${this.name}#${this.starts} `) && /patchbay worker: on /.test(l))) {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.name} was not ready within ${timeoutMs} ms:\n${this.lines.slice(-15).join('\n')}`);
  }
}
