/**
 * npm run bench:startup — how long `patchbay --help` and `patchbay plan` take to start and finish,
 * beside `node -e 0` as the floor: each run directly (`node dist/core/cli/main.js …`) and through
 * `npx patchbay …` (npm's own start-up included, as a user types it). Each command runs BENCH_RUNS
 * times (default 11) after one warm-up run (which also writes the compiled-schema cache); prints the
 * median wall time and the median CPU time (user + system of the command and its children, from
 * /usr/bin/time when present), then the machine: cores, CPU model, load average before and after.
 * On a shared machine wall time follows the load; CPU time is the steadier figure.
 * BENCH_NPX=0 leaves out the npx rows.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { packageRoot } from '../../core/paths.js';

const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 11));
const cli = path.join(packageRoot, 'dist', 'core', 'cli', 'main.js');
const time = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const plan = ['plan', 'offboard', '--app', 'spendesk', '--user', 'a@b.com'];
const npx = process.env.BENCH_NPX !== '0';

/** One row: what is shown, the program and its arguments. */
const commands: [string, string, string[]][] = [
  ['node -e 0 (floor)', process.execPath, ['-e', '0']],
  ['node dist/core/cli/main.js --help', process.execPath, [cli, '--help']],
  [`node dist/core/cli/main.js ${plan.join(' ')}`, process.execPath, [cli, ...plan]],
  ...(npx
    ? ([
        ['npx patchbay --help', 'npx', ['--no-install', 'patchbay', '--help']],
        [`npx patchbay ${plan.join(' ')}`, 'npx', ['--no-install', 'patchbay', ...plan]],
      ] as [string, string, string[]][])
    : []),
];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function once(program: string, args: string[]): { wall: number; cpu?: number } {
  const env = { ...process.env, PATCHBAY_CONNECTORS: '' };
  const started = process.hrtime.bigint();
  const result = time
    ? spawnSync(time, ['-f', '%U %S', program, ...args], { encoding: 'utf8', env, cwd: packageRoot })
    : spawnSync(program, args, { encoding: 'utf8', env, cwd: packageRoot });
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${program} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  const last = time ? result.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) : undefined;
  return { wall, ...(last && last.length === 2 && last.every(Number.isFinite) ? { cpu: (last[0]! + last[1]!) * 1000 } : {}) };
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const cpus = os.cpus();
const loadBefore = load();
console.log(`| Command | Median wall | Median CPU |`);
console.log(`| --- | ---: | ---: |`);
for (const [label, program, args] of commands) {
  once(program, args);
  const samples = Array.from({ length: runs }, () => once(program, args));
  const cpu = samples.every((s) => s.cpu !== undefined) ? `${median(samples.map((s) => s.cpu!)).toFixed(0)} ms` : 'n/a';
  console.log(`| \`${label}\` | ${median(samples.map((s) => s.wall)).toFixed(0)} ms | ${cpu} |`);
}
console.log('');
console.log(`node ${process.version}; ${cpus.length} cores, ${cpus[0]?.model ?? 'unknown model'}; ${runs} runs each after one warm-up, medians`);
console.log(`load average (1, 5, 15 min): ${loadBefore} before, ${load()} after`);
