import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { connectorsDir, packageRoot } from '../../core/paths.js';

/** A scratch folder removed after the test run. */
export function scratchDir(prefix = 'patchbay-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A copy of the real connectors/ to break on purpose. */
export function copyOfConnectors(): string {
  const dir = path.join(scratchDir(), 'connectors');
  cpSync(connectorsDir, dir, { recursive: true, filter: (src) => !src.endsWith('.ts') });
  return dir;
}

/** Reads a JSON file, lets the test change it, writes it back. */
export function editJson<T = Record<string, any>>(file: string, change: (data: T) => void): void {
  const data = JSON.parse(readFileSync(file, 'utf8')) as T;
  change(data);
  writeFileSync(file, JSON.stringify(data, null, 2));
}

export function readJson<T = Record<string, any>>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The store a CLI command uses when a test gives no --data-dir: one scratch folder for this test process,
 * never the user's ~/.local/share/patchbay (a store there from another build would change what a test sees).
 */
const cliDataDir = mkdtempSync(path.join(tmpdir(), 'patchbay-test-home-'));

/** Runs the built CLI as a user would, in its own process. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const result = spawnSync(process.execPath, [path.join(packageRoot, 'dist', 'core', 'cli', 'main.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, PATCHBAY_CONNECTORS: '', PATCHBAY_DATA_DIR: cliDataDir, ...env },
    cwd: packageRoot,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `run`, expects it to throw an error of `type`, and returns the error for closer checks. */
export function caught<E extends Error>(type: abstract new (...args: any[]) => E, run: () => unknown): E {
  try {
    const result = run();
    if (result instanceof Promise) throw new Error('caught() was given an asynchronous call: use caughtAsync()');
  } catch (error) {
    if (error instanceof type) return error;
    throw new assert.AssertionError({ message: `expected ${type.name}, got ${String(error)}`, actual: error, expected: type });
  }
  throw new assert.AssertionError({ message: `expected ${type.name}, nothing was thrown` });
}

/** Awaits `run`, expects it to reject with an error of `type`, and returns the error for closer checks. */
export async function caughtAsync<E extends Error>(type: abstract new (...args: any[]) => E, run: () => Promise<unknown>): Promise<E> {
  try {
    await run();
  } catch (error) {
    if (error instanceof type) return error;
    throw new assert.AssertionError({ message: `expected ${type.name}, got ${String(error)}`, actual: error, expected: type });
  }
  throw new assert.AssertionError({ message: `expected ${type.name}, nothing was thrown` });
}

/** Like runCli, without blocking this process: for tests whose servers must answer the CLI. */
export function runCliAsync(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [path.join(packageRoot, 'dist', 'core', 'cli', 'main.js'), ...args], {
    env: { ...process.env, PATCHBAY_CONNECTORS: '', PATCHBAY_DATA_DIR: cliDataDir, ...env },
    cwd: packageRoot,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
}
