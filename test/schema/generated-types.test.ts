import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { generatedTypesDir } from '../../core/paths.js';
import { generateTypes } from '../../core/schema/generate-types.js';

describe('generated types', () => {
  it('match what json-schema-to-typescript writes from the schemas now', async function () {
    const expected = await generateTypes();
    const stale = [...expected].filter(([file, content]) => {
      const target = path.join(generatedTypesDir, file);
      return !existsSync(target) || readFileSync(target, 'utf8') !== content;
    });
    assert.deepEqual(stale.map(([f]) => f), [], 'stale: run npm run types');
    const extra = readdirSync(generatedTypesDir).filter((f) => !expected.has(f));
    assert.deepEqual(extra, [], 'files no schema generates');
  });
});
