/**
 * npm run bench:startup — how long `patchbay --help` and `patchbay plan` take to start and finish,
 * run directly with node, beside `node -e 0` as the floor. Each command runs BENCH_RUNS times (default
 * 7) after one warm-up run (which also writes the compiled-schema cache); prints the median wall time
 * and the median CPU time (user + system, from /usr/bin/time when present). On a shared machine wall
 * time follows the load; CPU time is the steadier figure.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { packageRoot } from '../../core/paths.js';

const runs = Number(process.env.BENCH_RUNS ?? 7);
const cli = path.join(packageRoot, 'dist', 'core', 'cli', 'main.js');
const time = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const commands: [string, string[]][] = [
  ['node -e 0 (floor)', ['-e', '0']],
  ['patchbay --help', [cli, '--help']],
  ['patchbay plan offboard --app spendesk', [cli, 'plan', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com']],
];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function once(args: string[]): { wall: number; cpu?: number } {
  const started = process.hrtime.bigint();
  const result = time
    ? spawnSync(time, ['-f', '%U %S', process.execPath, ...args], { encoding: 'utf8', env: { ...process.env, PATCHBAY_CONNECTORS: '' } })
    : spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, PATCHBAY_CONNECTORS: '' } });
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  const last = time ? result.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) : undefined;
  return { wall, ...(last && last.every(Number.isFinite) ? { cpu: (last[0]! + last[1]!) * 1000 } : {}) };
}

console.log(`node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${runs} runs each, medians`);
for (const [label, args] of commands) {
  once(args);
  const samples = Array.from({ length: runs }, () => once(args));
  const cpu = samples.every((s) => s.cpu !== undefined) ? `${median(samples.map((s) => s.cpu!)).toFixed(0).padStart(5)} ms CPU` : '';
  console.log(`${label.padEnd(42)} ${median(samples.map((s) => s.wall)).toFixed(0).padStart(5)} ms wall  ${cpu}`);
}
