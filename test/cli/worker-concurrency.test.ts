import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { defaultBrowserContexts } from '../../core/channels/browser/browser-host.js';
import { runCliAsync, scratchDir } from '../support/fixtures.js';

/** The messages of a worker's log lines (JSON, one per line, when stderr is not a terminal), one per line. */
const messages = (stderr: string): string => stderr.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { msg: string }).msg).join('\n');

describe('patchbay worker --concurrency', function () {
  this.timeout(60_000);

  it('says at start how many browser jobs it runs at once: the number given, or the machine\'s default and what it came from', async () => {
    const data = ['--data-dir', path.join(scratchDir(), 'data')];
    const given = await runCliAsync([...data, 'worker', '--once', '--concurrency', '3']);
    assert.equal(given.status, 0, given.stderr);
    assert.match(messages(given.stderr), /^patchbay worker: up to 3 browser jobs at a time, each in its own context \(--concurrency\)$/m);
    assert.ok(given.stderr.split('\n').some((line) => line.includes('"concurrency":3')), `the line carries the number as a field: ${given.stderr}`);
    const one = await runCliAsync([...data, 'worker', '--once', '--concurrency', '1']);
    assert.match(messages(one.stderr), /^patchbay worker: up to 1 browser job at a time, each in its own context \(--concurrency\)$/m);
    const fallback = await runCliAsync([...data, 'worker', '--once']);
    assert.equal(fallback.status, 0, fallback.stderr);
    const [, n, cores] = /^patchbay worker: up to (\d+) browser jobs? at a time, each in its own context \(from (\d+) cores and [\d.]+ GiB free memory; --concurrency sets it\)$/m.exec(messages(fallback.stderr)) ?? [];
    assert.equal(Number(cores), os.availableParallelism());
    assert.ok(Number(n) >= 1 && Number(n) <= defaultBrowserContexts(Number(cores), os.totalmem()).contexts, fallback.stderr);
  });

  for (const bad of ['0', '-2', 'two', '1.5', '1000']) {
    it(`refuses --concurrency ${bad} in one line, exit 2, before it opens the store`, async () => {
      const dir = scratchDir();
      const result = await runCliAsync(['--data-dir', path.join(dir, 'data'), 'worker', '--once', `--concurrency=${bad}`]);
      assert.equal(result.status, 2);
      assert.match(result.stderr, new RegExp(`--concurrency must be a whole number of browser jobs from 1 to 999 \\(got ${bad.replace('.', '\\.')}\\)`));
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.doesNotMatch(result.stderr, /patchbay worker: on /, 'nothing started');
    });
  }
});
