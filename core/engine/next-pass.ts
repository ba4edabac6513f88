/**
 * How long a catch-up loop (the server's, a worker's) sleeps before its next pass, in ms: until the next
 * thing falls due (`dueInMs`, from RunService.nextDueIn, measured on the runtime's own clock), but never longer
 * than `maxMs` (the loop's interval: work another process made due, or a clock that moved, is still found)
 * and never shorter than `minMs` (something due now that this process cannot take — a run leased by
 * another worker — must not spin the loop). `null` (nothing waits for a time) sleeps `maxMs`.
 */
export function nextPassDelay(dueInMs: number | null, limits: { readonly minMs: number; readonly maxMs: number }): number {
  if (dueInMs === null) return limits.maxMs;
  return Math.min(limits.maxMs, Math.max(limits.minMs, dueInMs));
}
