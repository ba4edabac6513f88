import type { Command } from 'commander';
import { InvalidInputError } from '../errors.js';
import type { FeedRead } from '../intake/leaver-feed.js';
import type { CliContext } from './run-commands.js';

const stamp = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/** What one read of the leaver feed did, a line per app and per offboarding. */
export function renderFeedReads(reads: readonly FeedRead[]): string {
  const lines: string[] = [];
  for (const r of reads) {
    if (r.skipped) {
      lines.push(`${r.app}: not read: ${r.skipped}`);
      continue;
    }
    lines.push(`${r.app}: ${r.events} leaver event${r.events === 1 ? '' : 's'} since ${stamp(r.since)} UTC`);
    for (const s of r.started) lines.push(`  ${s.created ? 'opened' : 'already open:'} offboarding ${s.run} for ${s.email}${s.app ? ` from ${s.app}` : ''} (event ${s.event})`);
    for (const p of r.problems) lines.push(`  ${p}`);
  }
  return lines.join('\n') || 'no installed app to read';
}

/** `patchbay leavers`: the IdP's leavers since the last read become offboardings. */
export function registerIntakeCommands(program: Command, cli: CliContext): void {
  program
    .command('leavers')
    .description("read the IdP's leavers since the last read (people unassigned from an app: offboarded from it; people deactivated, suspended or deleted in the IdP: offboarded from every app) and open their offboardings, once per event and app")
    .option('--profile <file>', 'tenant profile (default: the embedded demo tenant)')
    .option('--since <time>', 'read from this time (ISO 8601, e.g. 2026-11-27) instead of the last read; a first read starts from now')
    .option('--json', 'print JSON')
    .action(async (options: { profile?: string; since?: string; json?: boolean }) => {
      const since = options.since === undefined ? undefined : Date.parse(options.since);
      if (since !== undefined && !Number.isFinite(since)) throw new InvalidInputError({ file: 'command line', pointer: '/since' }, `"${options.since}" is not a time (ISO 8601, e.g. 2026-11-27T09:00Z)`);
      const loaded = cli.services().profiles.load(options.profile);
      const reads = await (await cli.runtime()).leavers.read(loaded, since === undefined ? {} : { since });
      if (options.json) cli.printJson(reads);
      else cli.print(renderFeedReads(reads));
      if (reads.some((r) => r.problems.length)) process.exitCode = 1;
    });
}
