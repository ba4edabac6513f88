/**
 * A process that starts runs through the run service as the server does (`drive: false`: group
 * commit), `BENCH`-style: 16 callers at a time, for ever, and prints "answered <runId>" the moment
 * each start is answered. The test kills it with SIGKILL in the middle and checks the store.
 * Argument: the data folder; PATCHBAY_DATABASE_URL for PostgreSQL.
 */
import { createServices } from '../../core/container.js';

const dataDir = process.argv[2]!;
const services = createServices();
const profile = services.profiles.load();
const url = process.env.PATCHBAY_DATABASE_URL;
const runtime = await services.openRuntime({ dataDir, ...(url ? { databaseUrl: url, migrations: 'apply' as const } : {}) });
let next = 0;
await Promise.all(Array.from({ length: 16 }, async () => {
  for (;;) {
    const i = next++;
    const [result] = await runtime.runs.start([{ source: `request ${i}`, request: { playbook: 'offboard', app: 'spendesk', subject: { email: `leaver${i}@acme.com` } } }], profile, { drive: false });
    // A pipe's write is synchronous on Linux: the line is out before the next request is answered.
    process.stdout.write(`answered ${result!.run.id}\n`);
  }
}));
