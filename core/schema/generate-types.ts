import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileFromFile } from 'json-schema-to-typescript';
import { generatedTypesDir, schemasDir } from '../paths.js';
import { schemaKinds } from './validator.js';

const banner = (schemaFile: string) =>
  `/* Generated from schemas/${schemaFile} by \`npm run types\`. Do not edit: change the schema and regenerate. */`;

/**
 * The TypeScript module for each document schema, by file name under core/schema/types/.
 * common.schema.json has no document of its own: its definitions appear in the modules that use them.
 */
export async function generateTypes(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const kind of schemaKinds) {
    const schemaFile = `${kind}.schema.json`;
    const ts = await compileFromFile(path.join(schemasDir, schemaFile), {
      cwd: schemasDir,
      bannerComment: banner(schemaFile),
      additionalProperties: false,
      style: { singleQuote: true, printWidth: 120 },
    });
    out.set(`${kind}.ts`, ts);
  }
  return out;
}

async function main(): Promise<void> {
  mkdirSync(generatedTypesDir, { recursive: true });
  for (const [file, content] of await generateTypes()) {
    writeFileSync(path.join(generatedTypesDir, file), content);
    console.log(`wrote core/schema/types/${file}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
