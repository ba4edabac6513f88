import assert from 'node:assert/strict';
import path from 'node:path';
import { writeTallyboard } from '../connectors-as-data/tallyboard.js';
import { editJson, runCli, scratchDir } from '../support/fixtures.js';

/**
 * A run in flight whose connector came from PATCHBAY_CONNECTORS, driven on by a shell that lacks it
 * (the fresh user's `task complete` in another terminal): the run waits for a process that has the
 * connector, and the command says so on stderr and exits non-zero; nothing fails the run.
 */
describe('a run whose connector is missing when it resumes', function () {
  this.timeout(120_000);

  it('parks with the reason, is not failed, and the command that drove it exits 1 saying why', () => {
    const root = scratchDir();
    const catalogue = path.join(root, 'catalogue');
    writeTallyboard(catalogue);
    const withIt = { PATCHBAY_CONNECTORS: catalogue };
    const data = ['--data-dir', path.join(root, 'data')];
    const profile = path.join(root, 'tenant.json');
    assert.equal(runCli(['init', '--apps', 'tallyboard', '--out', profile], withIt).status, 0);
    // No token in the environment: the api channel cannot read, and the step goes to a person.
    editJson(profile, (p) => {
      p.apps.tallyboard.baseUrl = 'http://127.0.0.1:9';
      p.queues[0].members = ['it@acme.com'];
    });
    const started = runCli([...data, 'run', 'offboard', '--app', 'tallyboard', '--user', 'leaver@acme.com', '--profile', profile], withIt);
    const task = /task-[a-z0-9]+/.exec(started.stdout)?.[0];
    assert.ok(task, started.stdout + started.stderr);

    const completed = runCli([...data, 'task', 'complete', task, '--by', 'it@acme.com', '--evidence', 'deactivated by hand']);
    assert.equal(completed.status, 1, completed.stdout + completed.stderr);
    assert.match(completed.stderr, /run-[a-z0-9]+ waits: connector 'tallyboard' is not in this process's catalogue \(PATCHBAY_CONNECTORS\?\); it is tried again at /);

    const [run] = JSON.parse(runCli([...data, 'runs', '--json'], withIt).stdout) as { id: string; status: string; waitingFor: string | null; wakeAt: string | null }[];
    assert.equal(run!.status, 'waiting');
    assert.equal(run!.waitingFor, "connector 'tallyboard' is not in this process's catalogue (PATCHBAY_CONNECTORS?)");
    assert.ok(run!.wakeAt && Date.parse(run!.wakeAt) > Date.now(), 'due again later');
    const audit = runCli([...data, 'audit', 'verify'], withIt);
    assert.equal(audit.status, 0, audit.stderr);
  });
});
