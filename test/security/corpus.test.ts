import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { packageRoot } from '../../core/paths.js';
import { databaseFile } from '../../core/store/database.js';
import { runCli, runCliAsync, scratchDir } from '../support/fixtures.js';

/**
 * One bad input: the CLI arguments (files under test/fixtures/bad-input/cli/), where the one line on
 * stderr must say it went wrong (file and JSON pointer or line), and which store it runs against:
 * none yet ("empty": none may be created) or one holding a run ("existing": it must not change).
 */
interface BadInput {
  readonly id: string;
  readonly args: readonly string[];
  readonly where: string;
  readonly store: 'empty' | 'existing';
}

const corpusDir = path.join(packageRoot, 'test', 'fixtures', 'bad-input', 'cli');
const corpus = JSON.parse(readFileSync(path.join(corpusDir, 'cases.json'), 'utf8')) as BadInput[];

/** Every row of every table, hashed: what "the store did not change" means. */
function storeDigest(dir: string): string {
  const db = new BetterSqlite3(databaseFile(dir), { readonly: true });
  try {
    const hash = createHash('sha256');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
    for (const table of tables) hash.update(`${table}\n${(db.prepare(`SELECT * FROM "${table}"`).all() as unknown[]).map((row) => JSON.stringify(row)).sort().join("\n")}\n`);
    return hash.digest('hex');
  } finally {
    db.close();
  }
}

describe('bad input to the CLI', function () {
  this.timeout(600_000);
  let template: string;

  before(() => {
    // A store with one run waiting on a person, copied for each case that runs beside existing data.
    template = scratchDir('patchbay-corpus-');
    const started = runCli(['--data-dir', template, 'run', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com']);
    assert.equal(started.status, 0, started.stderr);
  });

  it('holds at least 60 inputs across every kind of file and the command line', () => {
    assert.ok(corpus.length >= 60, `${corpus.length} inputs`);
    const kinds = new Set(corpus.map((c) => c.id.split('/')[0]));
    assert.deepEqual([...kinds].sort(), ['cli', 'manifest', 'plan', 'profile', 'recipe', 'request', 'runbook', 'users']);
    assert.ok(corpus.some((c) => c.store === 'existing'));
  });

  it('refuses each with exit code 2, one line naming where, and an unchanged store (none created where there was none)', async () => {
    const failures: string[] = [];
    const check = async (bad: BadInput) => {
      const dir = scratchDir('patchbay-corpus-');
      if (bad.store === 'existing') cpSync(template, dir, { recursive: true });
      const before = bad.store === 'existing' ? storeDigest(dir) : undefined;
      const result = await runCliAsync(['--data-dir', dir, ...bad.args]);
      const lines = result.stderr.split('\n').filter(Boolean);
      const problems = [
        result.status !== 2 && `exit ${result.status}`,
        lines.length !== 1 && `${lines.length} lines on stderr`,
        !result.stderr.startsWith('patchbay: ') && 'not a patchbay message',
        !result.stderr.includes(bad.where) && `does not name ${bad.where}`,
        /\n\s+at /.test(result.stderr) && 'a stack trace',
        bad.store === 'empty' && readdirSync(dir).length > 0 && `created ${readdirSync(dir).join(', ')}`,
        before !== undefined && storeDigest(dir) !== before && 'changed the store',
      ].filter(Boolean);
      if (problems.length) failures.push(`${bad.id}: ${problems.join('; ')} — ${JSON.stringify(result.stderr)}`);
    };
    // A few at a time: each is a whole CLI process.
    for (let i = 0; i < corpus.length; i += 3) await Promise.all(corpus.slice(i, i + 3).map(check));
    assert.deepEqual(failures, []);
  });
});
