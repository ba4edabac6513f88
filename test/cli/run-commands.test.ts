import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, scratchDir } from '../support/fixtures.js';

/** The CLI on its own data folder, as an operator would use it across separate invocations. */
function cli(): (args: string[], env?: NodeJS.ProcessEnv) => ReturnType<typeof runCli> {
  const dataDir = scratchDir();
  return (args, env = {}) => runCli(['--data-dir', dataDir, ...args], env);
}
const json = (result: ReturnType<typeof runCli>) => {
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
};

describe('patchbay run and task commands', function () {
  // Each command is a process of its own, as an operator runs it: slow by nature.
  this.timeout(90_000);

  it('take a Spendesk offboarding from start to finish across separate invocations', () => {
    const pb = cli();
    const started = pb(['run', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com']);
    assert.equal(started.status, 0, started.stderr);
    assert.match(started.stdout, /^Started run-\w+: offboard alice@acme\.com — spendesk \(tenant acme\)\nNow: task task-\w+ "Remove alice@acme\.com's Spendesk assignment in Okta" \(queue it-ops, due .*\)\nNext: patchbay task show task-\w+\n$/);
    const runId = /Started (run-\w+)/.exec(started.stdout)![1]!;
    const members: Record<string, string> = { 'it-ops': 'it.oncall@acme.example', 'finance-admins': 'finance.admin@acme.example' };
    for (let i = 0; i < 10; i++) {
      const [task] = json(pb(['tasks', '--json']));
      if (!task) break;
      if (i === 0) assert.match(pb(['task', 'show', task.id]).stdout, /Checklist:\n {2}\[ \] 1\. /);
      const done = pb(['task', 'complete', task.id, '--by', members[task.queue]!, '--evidence', `done ${i}`]);
      assert.equal(done.status, 0, done.stderr);
    }
    const status = pb(['run', 'status', runId]);
    assert.match(status.stdout, /Status: completed \(done\)/);
    assert.equal((status.stdout.match(/^\d\. \[done\]/gm) ?? []).length, 6);
    assert.match(pb(['audit', 'verify']).stdout, /audit log intact: \d+ rows, every link holds/);
    assert.equal(json(pb(['runs', '--json']))[0].status, 'completed');
  });

  it('returns the open run when the same request comes twice', () => {
    const pb = cli();
    const first = json(pb(['run', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com', '--json']));
    const second = pb(['run', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com']);
    assert.match(second.stdout, new RegExp(`^${first[0].id} is already open for offboard alice@acme\\.com — spendesk: returned it, nothing new was started`));
    assert.equal(json(pb(['runs', '--json'])).length, 1);
  });

  it('prints times in --json as ISO 8601 strings, everywhere a time is (runs, a run, tasks, a task)', () => {
    const pb = cli();
    const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    const [started] = json(pb(['run', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com', '--json']));
    const [run] = json(pb(['runs', '--json']));
    // The table beside it fits 100 columns (the wait's long task title wraps), with the run id whole.
    const table = pb(['runs']).stdout;
    assert.ok(Math.max(...table.split('\n').map((l) => l.length)) <= 100, table);
    assert.match(table, new RegExp(`│ ${started.id} +│`));
    for (const key of ['createdAt', 'updatedAt']) assert.match(run[key], iso, key);
    assert.equal(run.finishedAt, null);
    const timeline = json(pb(['run', 'status', started.id, '--json']));
    assert.match(timeline.run.createdAt, iso);
    assert.ok(timeline.audit.length > 0 && timeline.audit.every((a: { at: unknown }) => typeof a.at === 'string' && iso.test(a.at)), 'every audit time');
    const [task] = json(pb(['tasks', '--json']));
    assert.match(task.dueAt, iso);
    assert.match(json(pb(['task', 'show', task.id, '--json'])).createdAt, iso);
    const completed = json(pb(['task', 'complete', task.id, '--by', 'it.oncall@acme.example', '--evidence', 'removed', '--json']));
    assert.equal(completed.status, 'completed', 'task complete --json prints the task, not a pending promise');
    assert.match(completed.closedAt, iso);
    // Nothing else is touched: counts and ids stay what they are.
    assert.equal(typeof timeline.audit[0].seq, 'number');
  });

  it('starts one run per person from a CSV and batches the Okta checklist', () => {
    const pb = cli();
    const file = path.join(scratchDir(), 'leavers.csv');
    writeFileSync(file, 'Email,First name\nann@acme.com,Ann\nben@acme.com,Ben\ncid@acme.com,Cid\n');
    const runs = json(pb(['run', 'offboard', '--app', 'spendesk', '--users-file', file, '--json']));
    assert.equal(runs.length, 3);
    const tasks = json(pb(['tasks', '--json']));
    assert.equal(tasks.length, 1);
    assert.equal(tasks[0].title, "Remove 3 people's Spendesk assignment in Okta");
  });

  it('refuses a CSV row that is not an email, naming the line, and starts nothing', () => {
    const pb = cli();
    const file = path.join(scratchDir(), 'leavers.csv');
    writeFileSync(file, 'email\nann@acme.com\nben.acme.com\n');
    const result = pb(['run', 'offboard', '--app', 'spendesk', '--users-file', file]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^patchbay: .*leavers\.csv:3#\/subject\/email: must be a valid email\n$/);
    assert.deepEqual(json(pb(['runs', '--json'])), []);
  });

  it('refuses a CSV without an email column', () => {
    const pb = cli();
    const file = path.join(scratchDir(), 'people.csv');
    writeFileSync(file, 'name\nAnn\n');
    assert.match(pb(['run', 'offboard', '--app', 'spendesk', '--users-file', file]).stderr, /people\.csv:1: no email column in the header \(name\)/);
  });

  it('asks who the operator is, and refuses a task completed twice', () => {
    const pb = cli();
    pb(['run', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com']);
    const [task] = json(pb(['tasks', '--json']));
    const anonymous = pb(['task', 'complete', task.id, '--evidence', 'x'], { PATCHBAY_OPERATOR: '' });
    assert.equal(anonymous.status, 2);
    assert.match(anonymous.stderr, /say who you are with --by <operator> \(or set PATCHBAY_OPERATOR\)/);
    assert.equal(pb(['task', 'complete', task.id, '--evidence', 'x'], { PATCHBAY_OPERATOR: 'it.oncall@acme.example' }).status, 0);
    const twice = pb(['task', 'complete', task.id, '--by', 'it.oncall@acme.example', '--evidence', 'x']);
    assert.equal(twice.status, 2);
    assert.match(twice.stderr, /^patchbay: task task-\w+: already completed by it\.oncall@acme\.example on .*; nothing was changed\n$/);
  });

  it('keeps a file given as evidence, by its hash', () => {
    const pb = cli();
    pb(['run', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com']);
    const [task] = json(pb(['tasks', '--json']));
    const shot = path.join(scratchDir(), 'okta-assignments.png');
    writeFileSync(shot, Buffer.from('not really a png'));
    assert.equal(pb(['task', 'complete', task.id, '--by', 'it.oncall@acme.example', '--evidence', shot]).status, 0);
    const shown = json(pb(['task', 'show', task.id, '--json']));
    assert.equal(shown.evidence[0].kind, 'file');
    assert.equal(shown.evidence[0].file.name, 'okta-assignments.png');
    assert.match(shown.evidence[0].file.sha256, /^[0-9a-f]{64}$/);
  });
});
