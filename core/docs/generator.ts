import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inject, injectable } from '#inversify';
import { packageVersion, schemasDir } from '../paths.js';
import { ConnectorRegistry } from '../registry/registry.js';
import { renderConnectorPage } from './connector-page.js';
import { generatedNotice, page, table } from './markdown.js';
import { renderMatrixPage } from './matrix-page.js';
import { renderSchemaPage } from './schema-page.js';
import { openApiDocument } from '../server/openapi.js';

/** Folders under docs/ that hold only generated pages: a page there that the generator does not write is stale. */
const generatedFolders = ['connectors', 'schemas'];

export const DocsGenerator = Symbol('DocsGenerator');
export interface DocsGenerator {
  /** Every generated page, by path relative to docs/. */
  render(): Map<string, string>;
  /** Writes the pages and removes generated pages nobody writes any more; returns what changed. */
  write(docsDir: string): { written: string[]; removed: string[] };
  /** The pages that differ from what would be written (missing, changed or left over). */
  stale(docsDir: string): string[];
}

/** Writes docs/ from the manifests and schemas: a page per connector, the matrix, a page per schema. */
@injectable()
export class MarkdownDocsGenerator implements DocsGenerator {
  constructor(@inject(ConnectorRegistry) private readonly registry: ConnectorRegistry) {}

  render(): Map<string, string> {
    const pages = new Map<string, string>();
    const connectors = this.registry.list();
    for (const connector of connectors) {
      pages.set(`connectors/${connector.manifest.id}.md`, renderConnectorPage(connector, this.registry.implemented(connector.manifest.id)));
    }
    pages.set('capability-matrix.md', renderMatrixPage(connectors));
    pages.set('openapi.json', `${JSON.stringify(openApiDocument(packageVersion()), null, 2)}\n`);
    const schemaFiles = readdirSync(schemasDir).filter((f) => f.endsWith('.schema.json')).sort();
    for (const file of schemaFiles) {
      pages.set(`schemas/${file.replace(/\.schema\.json$/, '.md')}`, renderSchemaPage(file, JSON.parse(readFileSync(path.join(schemasDir, file), 'utf8'))));
    }
    pages.set(
      'reference.md',
      page([
        generatedNotice('connectors/ and schemas/'),
        '# Reference',
        `[Capability matrix](capability-matrix.md) across ${connectors.length} connectors.`,
        '## Connectors',
        table(
          ['Connector', 'Kind', 'Channels its operations can use', 'Automation'],
          connectors.map(({ manifest: m }) => [
            `[${m.name}](connectors/${m.id}.md)`,
            m.kind,
            [...new Set(Object.values(m.operations).flatMap((op) => op.channels.map((c) => c.channel)))].sort().join(', ') || '—',
            m.automation.headline,
          ]),
        ),
        '## Schemas',
        table(
          ['Schema', 'File'],
          schemaFiles.map((f) => [`[${f.replace(/\.schema\.json$/, '')}](schemas/${f.replace(/\.schema\.json$/, '.md')})`, `schemas/${f}`]),
        ),
      ]),
    );
    return pages;
  }

  write(docsDir: string): { written: string[]; removed: string[] } {
    const pages = this.render();
    const written: string[] = [];
    for (const [file, content] of pages) {
      const target = path.join(docsDir, file);
      if (existsSync(target) && readFileSync(target, 'utf8') === content) continue;
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, content);
      written.push(file);
    }
    const removed = leftovers(docsDir, pages);
    for (const file of removed) rmSync(path.join(docsDir, file));
    return { written, removed };
  }

  stale(docsDir: string): string[] {
    const pages = this.render();
    const changed = [...pages].filter(([file, content]) => {
      const target = path.join(docsDir, file);
      return !existsSync(target) || readFileSync(target, 'utf8') !== content;
    });
    return [...changed.map(([file]) => file), ...leftovers(docsDir, pages)].sort();
  }
}

function leftovers(docsDir: string, pages: ReadonlyMap<string, string>): string[] {
  return generatedFolders.flatMap((folder) => {
    const dir = path.join(docsDir, folder);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.md'))
      .map((f) => `${folder}/${f}`)
      .filter((f) => !pages.has(f));
  });
}
