/**
 * npm run bench:reconcile — reconcile N IdP assignments against N app accounts with 1% drift
 * (0.5% active accounts nobody assigns, 0.5% assignments with no account), for N = 100,000 and
 * 1,000,000, each in its own process so that peak memory is its own. Prints the time to reconcile,
 * the findings, the time to keep them in the store (a real SQLite file; twice, the second carrying
 * each finding's first sighting), and the process's peak resident memory (input records included).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { reconcile } from '../../core/reconcile/findings.js';
import { ReconcileHistory } from '../../core/reconcile/history.js';
import { type AccountRecord, completeRead, type Snapshot } from '../../core/reconcile/snapshot.js';
import { openStore } from '../../core/store/sql.js';

const size = Number(process.argv[2] ?? 0);
if (!size) {
  console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
  for (const n of [100_000, 1_000_000]) process.stdout.write(execFileSync(process.execPath, ['--max-old-space-size=4096', fileURLToPath(import.meta.url), String(n)], { encoding: 'utf8' }));
} else {
  const drift = Math.round(size * 0.005);
  const idp: AccountRecord[] = [];
  const app: AccountRecord[] = [];
  for (let i = 0; i < size; i++) {
    const email = `person${i}@acme.com`;
    // The first `drift` people are assigned but have no account; the next `drift` have an account nobody assigns.
    if (i >= drift) app.push({ email: i % 3 === 0 ? email.toUpperCase() : email, active: true });
    if (i < drift || i >= 2 * drift) idp.push({ email, userName: email, active: true });
  }
  const now = Date.now();
  const snap = (side: 'idp' | 'app', accounts: AccountRecord[]): Snapshot => ({ side, app: 'spendesk', source: { kind: side === 'idp' ? 'idp' : 'file', name: side, readAt: now }, accounts, completeness: completeRead });
  const started = process.hrtime.bigint();
  const result = reconcile(snap('idp', idp), snap('app', app), { now });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const orphans = result.findings.filter((f) => f.kind === 'orphaned-account').length;
  const missing = result.findings.filter((f) => f.kind === 'assigned-but-missing').length;
  if (orphans !== drift || missing !== drift) throw new Error(`expected ${drift} + ${drift} findings, got ${orphans} + ${missing}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'patchbay-bench-'));
  const store = await openStore({ dataDir: dir });
  const history = new ReconcileHistory(store);
  const storing = process.hrtime.bigint();
  await history.record('acme', result);
  const firstStore = Number(process.hrtime.bigint() - storing) / 1e9;
  const again = process.hrtime.bigint();
  const carried = await history.record('acme', { ...result, at: now + 1 });
  const secondStore = Number(process.hrtime.bigint() - again) / 1e9;
  if (carried.findings.some((f) => f.firstSeenAt !== now)) throw new Error('first sightings were not carried');
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  console.log(
    `${size.toLocaleString('en').padStart(9)} assignments × ${app.length.toLocaleString('en').padStart(9)} accounts: reconciled in ${seconds.toFixed(2).padStart(5)} s, ${result.findings.length.toLocaleString('en')} findings (${orphans} orphaned, ${missing} missing), stored in ${firstStore.toFixed(2)} s (again, carrying first sightings: ${secondStore.toFixed(2)} s), peak memory ${peakMiB.toFixed(0)} MiB`,
  );
}
