import { randomBytes } from 'node:crypto';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

/** A short, unguessable, sortable-enough id: a prefix, 6 characters of time, 6 of randomness. */
export function newId(prefix: string, now: number): string {
  let time = '';
  let t = Math.floor(now / 1000);
  for (let i = 0; i < 6; i++) {
    time = alphabet[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let random = '';
  for (let i = 0; i < 6; i++) random += alphabet[nextRandomByte() % 32];
  return `${prefix}-${time}${random}`;
}

// Random bytes drawn in blocks: one system call per 4 KiB instead of one per id.
let pool = Buffer.alloc(0);
let offset = 0;
function nextRandomByte(): number {
  if (offset >= pool.length) {
    pool = randomBytes(4096);
    offset = 0;
  }
  return pool[offset++]!;
}
