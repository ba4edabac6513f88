/**
 * The engine as its own process, for the proof-of-removal crash test: starts (or re-requests,
 * idempotently) the offboarding of PERSON from the SCIM app at SCIM_URL, then drives the run to
 * its end, completing the IdP's task as a member of its queue. The test kills it with SIGKILL
 * while the SCIM server is applying the deactivation, before the answer can be journaled.
 */
import { createServices } from '../../core/container.js';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';
import { readJson } from '../support/fixtures.js';

const services = createServices({ secrets: new EnvironmentSecretResolver({ SCIM_TOKEN: 'scim-token' }) });
const data = readJson<Record<string, any>>(defaultProfileFile);
data.apps.scim = { baseUrl: process.env.SCIM_URL, secrets: { token: 'env:SCIM_TOKEN' }, queue: 'it-ops' };
const profile = { profile: services.profiles.check(data, 'tenant.json'), file: 'tenant.json' };
const runtime = await services.openRuntime({ dataDir: process.env.DATA_DIR!, retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 200 } });

const say = (line: string) => process.stdout.write(`${line}\n`);
await runtime.runs.start([{ source: 'proof-crash-worker', request: { playbook: 'offboard', app: 'scim', subject: { email: process.env.PERSON! } } }], profile, { idempotencyKey: 'proof-crash' });
say('started');
for (let round = 0; round < 200; round++) {
  await runtime.runs.settle();
  for (const task of (await runtime.tasks.list())) {
    const by = profile.profile.queues?.find((q) => q.id === task.queue)?.members[0] ?? 'someone';
    await runtime.tasks.complete(task.id, { by, evidence: task.content.runbook.evidence.filter((e) => e.required).map((e) => ({ text: `seen: ${e.label}` })) });
    say(`complete ${task.id}`);
  }
  if (!(await runtime.engine.list()).some((r) => r.status === 'running' || r.status === 'waiting')) break;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
say('finished');
await runtime.close();
