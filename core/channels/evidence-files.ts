import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inject, injectable } from '#inversify';
import type { Evidence } from './executor.js';

/** The folder where evidence files are kept (under the data folder). */
export const EvidenceDir = Symbol('EvidenceDir');

/**
 * Evidence files (uploads, screenshots, a page's HTML at a failure), kept by content: the file's
 * name is its SHA-256, so the same bytes are kept once and a record can prove what it points to.
 */
@injectable()
export class EvidenceFiles {
  constructor(@inject(EvidenceDir) private readonly dir: string) {}

  keep(bytes: Buffer, args: { name: string; kind: Evidence['kind']; summary: string; at: number; by?: string }): Evidence {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    mkdirSync(this.dir, { recursive: true });
    const kept = path.join(this.dir, `${sha256}${path.extname(args.name)}`);
    if (!existsSync(kept)) {
      // Written whole or not at all: a crash leaves no half file under the final name.
      const partial = `${kept}.${process.pid}.partial`;
      writeFileSync(partial, bytes);
      renameSync(partial, kept);
    }
    return {
      kind: args.kind,
      summary: args.summary,
      ...(args.by ? { by: args.by } : {}),
      at: args.at,
      file: { path: kept, sha256, size: bytes.length, name: args.name },
    };
  }
}
