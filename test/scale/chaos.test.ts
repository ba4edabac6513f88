import { describeChaos } from './chaos.js';

// CI's PostgreSQL pass: 100 runs, at least 20 kills, on the engine the environment names (embedded by default). See chaos.ts.
describeChaos({ runs: 100, kills: 20, timeoutMs: 30 * 60_000 });
