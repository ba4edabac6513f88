import { type ConsoleOptions, type SpendeskConsole, startSpendeskConsole } from '../fixtures/spendesk-console/server.js';
import { type Seed, readSeed } from '../fixtures/spendesk-console/state.js';
import { type Harness, harness } from './runtime.js';

/** The simulator's admin account, as the tenant's secret references resolve it in tests. */
export const consoleAdmin = readSeed().admin;
export const consoleEnv = { SPENDESK_ADMIN_EMAIL: consoleAdmin.email, SPENDESK_ADMIN_PASSWORD: consoleAdmin.password };

/** A simulator for one test file (or one test), closed after it. `seed` changes the default seed. */
export async function spendeskConsole(options: ConsoleOptions & { change?: (seed: Seed & Record<string, any>) => void } = {}): Promise<SpendeskConsole> {
  const seed = structuredClone(options.seed ?? readSeed()) as Seed & Record<string, any>;
  options.change?.(seed);
  const console_ = await startSpendeskConsole({ ...options, seed });
  after(() => console_.close());
  return console_;
}

/** The demo tenant pointed at the simulator, with the robot's credentials in its environment. */
export async function consoleHarness(
  console_: SpendeskConsole,
  tweak?: Parameters<typeof harness>[0] extends infer O ? (O extends { tweak?: infer T } ? T : never) : never,
): Promise<Harness> {
  return await harness({
    env: consoleEnv,
    browser: { stepTimeoutMs: 2_000 },
    tweak: (p) => {
      p.apps.spendesk!.consoleUrl = console_.url;
      tweak?.(p);
    },
  });
}
