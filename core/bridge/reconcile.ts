import { randomUUID } from 'node:crypto';
import type { StoreDatabase } from '../store/sql.js';
import type { AccountRecord, Snapshot } from '../reconcile/snapshot.js';
import type { UserAttributes } from './patch.js';
import { type BridgeResource, BridgeStore } from './store.js';

/** What one reconciliation did to the bridge's resources of an app. */
export interface BridgeCorrection {
  /** False when nothing was changed: the app has no bridge, or the read was incomplete (`reason` says which). */
  readonly applied: boolean;
  readonly reason?: string;
  /** Accounts found in the app that the bridge did not hold, now resources (active as read). */
  readonly added: number;
  /** Active resources whose account the read did not find, now inactive. */
  readonly deactivated: number;
  /** Resources whose `active` differed from the account's, now as read. */
  readonly corrected: number;
  /** Resources left alone because a run of theirs is still at work (the read may predate its effect). */
  readonly inFlight: number;
  /** Accounts with neither an email nor a userName that is one: the bridge cannot hold them. */
  readonly unusable: number;
}

const fold = (s: string) => s.trim().toLowerCase();
const emailLike = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const none = { added: 0, deactivated: 0, corrected: 0, inFlight: 0, unusable: 0 };

/** Whether the app has a bridge: a live bridge token for it, or resources already held. */
async function bridged(store: StoreDatabase, tenant: string, app: string): Promise<boolean> {
  // A bridge token's actor names its app (AccessStore.createBridgeToken; a rotation keeps it).
  const token = await store.db.selectFrom('api_tokens').select('id').where('actor', '=', `scim-bridge:${app}`).where('revoked_at', 'is', null).limit(1).executeTakeFirst();
  if (token) return true;
  return (await store.db.selectFrom('scim_resources').select('id').where('tenant', '=', tenant).where('app', '=', app).limit(1).executeTakeFirst()) !== undefined;
}

/**
 * Seeds and corrects the bridge's SCIM Users of one app from a reconciliation's read of the app
 * (issue 18, item 4), so that `GET /Users` is the app's real population and not only what the IdP
 * pushed. Only a complete read (`completeness.complete`) changes anything; an incomplete one changes
 * nothing and says why in `reason`. Apps without a bridge (no bridge token, no resources) are left
 * alone. A resource whose latest run is still `running` or `waiting` is not touched: the read may
 * predate what that run does. Otherwise:
 * - an account the bridge does not hold (matched by email, userName, case-insensitively) becomes a
 *   resource, `active` as read, with no run (it reads `provisioningState: done`);
 * - an active resource whose account the read did not find becomes inactive (its run forgotten: the
 *   app and the bridge agree again);
 * - a resource whose `active` differs from its account's takes the account's.
 * Each change bumps the resource's version (its ETag). One transaction: all or nothing.
 * `say` gets one line for the operator when something changed or a read was refused.
 */
export async function bridgeFromReconciliation(database: StoreDatabase, tenant: string, read: Snapshot, at: number, say: (line: string) => void = () => {}): Promise<BridgeCorrection> {
  if (read.side !== 'app' || !(await bridged(database, tenant, read.app))) return { applied: false, reason: `${read.app} has no SCIM bridge`, ...none };
  if (!read.completeness.complete) {
    const reason = `the read of ${read.app} is incomplete (${read.completeness.reasons.join('; ')}), so the SCIM bridge's Users were left as they were`;
    say(`  ${reason}`);
    return { applied: false, reason, ...none };
  }
  const store = new BridgeStore(database);
  const busy = async (r: BridgeResource) => {
    if (!r.runId) return false;
    const status = (await database.db.selectFrom('runs').select('status').where('id', '=', r.runId).executeTakeFirst())?.status;
    return status === 'running' || status === 'waiting';
  };
  const counts = { ...none };
  const seen = new Set<string>();
  const change = (r: BridgeResource, active: boolean) =>
    store.put({ ...r, attributes: { ...r.attributes, active }, active, version: r.version + 1, lastModified: at, runId: null, runOperation: null, failure: null });
  await database.transaction(async () => {
    // Read inside the transaction: what is corrected is what is held when the correction commits.
    const resources = await store.all(tenant, read.app);
    const byKey = new Map<string, BridgeResource>();
    for (const r of resources) for (const k of [r.userName, r.email]) if (k) byKey.set(fold(k), r);
    for (const account of read.accounts) {
      const match = [account.email, account.userName].map((k) => (k ? byKey.get(fold(k)) : undefined)).find(Boolean);
      if (match) {
        if (seen.has(match.id)) continue;
        seen.add(match.id);
        if (match.active === account.active) continue;
        if (await busy(match)) counts.inFlight++;
        else {
          await change(match, account.active);
          counts.corrected++;
        }
        continue;
      }
      const created = resourceOf(tenant, read.app, account, at);
      if (!created) {
        counts.unusable++;
        continue;
      }
      await store.put(created);
      for (const k of [created.userName, created.email]) byKey.set(fold(k), created);
      seen.add(created.id);
      counts.added++;
    }
    for (const r of resources) {
      if (seen.has(r.id) || !r.active) continue;
      if (await busy(r)) counts.inFlight++;
      else {
        await change(r, false);
        counts.deactivated++;
      }
    }
  });
  if (counts.added || counts.deactivated || counts.corrected) {
    say(`  SCIM bridge of ${read.app}: ${counts.added} accounts added, ${counts.deactivated} Users gone from the app made inactive, ${counts.corrected} corrected${counts.inFlight ? `, ${counts.inFlight} left to their runs` : ''}`);
  }
  return { applied: true, ...counts };
}

/** A resource for an account the app has: the userName the app shows (else its email), the email as the work email. */
function resourceOf(tenant: string, app: string, account: AccountRecord, at: number): BridgeResource | undefined {
  const email = [account.email, account.userName].find((k) => k && emailLike.test(k.trim()))?.trim();
  if (!email) return undefined;
  const userName = (account.userName ?? email).trim();
  const attributes: UserAttributes = { userName, emails: [{ value: email, type: 'work', primary: true }], active: account.active };
  return { tenant, app, id: randomUUID(), userName, externalId: null, email, attributes, active: account.active, version: 1, createdAt: at, lastModified: at, runId: null, runOperation: null, failure: null };
}
