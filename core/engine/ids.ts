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
  const random = [...randomBytes(6)].map((b) => alphabet[b % 32]).join('');
  return `${prefix}-${time}${random}`;
}
