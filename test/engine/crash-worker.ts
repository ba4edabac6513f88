/**
 * The engine as its own process, for the crash tests: starts (or re-requests, idempotently) the
 * offboarding of everyone in PEOPLE on the ledger fixture, then drives the runs to the end,
 * completing the human tasks as the ops operator. The test kills it with SIGKILL at chosen points.
 */
import path from 'node:path';
import { createServices } from '../../core/container.js';
import { packageRoot } from '../../core/paths.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';
import { ledgerModule } from '../fixtures/connectors/ledger/api.js';
import { readJson } from '../support/fixtures.js';

const dataDir = process.env.DATA_DIR!;
const people = process.env.PEOPLE!.split(',');
const services = createServices({
  connectorsDir: path.join(packageRoot, 'test', 'fixtures', 'connectors'),
  modules: [ledgerModule],
  secrets: new EnvironmentSecretResolver({ LEDGER_TOKEN: 'ledger-token' }),
});
const data = readJson(path.join(packageRoot, 'test', 'fixtures', 'ledger-tenant.json'));
data.apps.ledger.baseUrl = process.env.LEDGER_URL;
const profile = { profile: services.profiles.check(data, 'ledger-tenant.json'), file: 'ledger-tenant.json' };
const runtime = await services.openRuntime({ dataDir, retry: { maxAttempts: 10, baseDelayMs: 20, maxDelayMs: 200 } });

const say = (line: string) => process.stdout.write(`${line}\n`);
await runtime.runs.start(
  people.map((email) => ({ source: 'crash-worker', request: { playbook: 'offboard', app: 'ledger', subject: { email } } })),
  profile,
  { idempotencyKey: 'crash-test' },
);
say('started');
for (let round = 0; round < 500; round++) {
  await runtime.runs.settle();
  for (const task of (await runtime.tasks.list())) {
    say(`complete ${task.id}`);
    await runtime.tasks.complete(task.id, { by: 'ops@ledger.test', evidence: [{ text: 'books handed to finance' }] });
  }
  const open = (await runtime.engine.list()).filter((r) => r.status === 'running' || r.status === 'waiting');
  if (open.length === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
say('finished');
await runtime.close();
