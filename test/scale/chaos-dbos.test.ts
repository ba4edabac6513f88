import { describeChaos } from './chaos.js';

// The same chaos test on the DBOS Transact engine (see chaos.ts): 30 runs, at least 20 kills, in CI's PostgreSQL pass.
describeChaos({ engine: 'dbos', runs: 30, kills: 20, timeoutMs: 15 * 60_000 });
