/** One JSON Pointer reference token escaped (RFC 6901, section 3: `~` as `~0`, `/` as `~1`). */
export function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}
