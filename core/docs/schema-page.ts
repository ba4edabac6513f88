import { generatedNotice, page, table } from './markdown.js';

type JsonSchema = {
  title?: string;
  description?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  $ref?: string;
  format?: string;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  allOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  $defs?: Record<string, JsonSchema>;
};

/** A reference page for one schema: its description, then every object's properties, root first. */
export function renderSchemaPage(file: string, schema: JsonSchema): string {
  const sections: string[] = [];
  const objects: [string, JsonSchema][] = [['(document)', schema], ...Object.entries(schema.$defs ?? {})];
  for (const [name, definition] of objects) {
    const properties = propertiesOf(definition);
    const heading = name === '(document)' ? '## The document' : `## \`${name}\``;
    const rows = Object.entries(properties).map(([prop, s]) => [
      `\`${prop}\``,
      typeOf(s),
      (definition.required ?? requiredOf(definition)).includes(prop) ? 'yes' : '',
      s.description ?? '',
    ]);
    sections.push(
      page([
        heading,
        name !== '(document)' ? [definition.description, constraints(definition)].filter(Boolean).join(' ') : undefined,
        rows.length ? table(['Property', 'Type', 'Required', 'Description'], rows) : undefined,
      ]).trimEnd(),
    );
  }
  return page([
    generatedNotice(`schemas/${file}`),
    `# ${schema.title ?? file}`,
    `Schema file: \`schemas/${file}\` (JSON Schema 2020-12). TypeScript types are generated from it into \`core/schema/types/\`.`,
    schema.description,
    ...sections,
  ]);
}

function propertiesOf(s: JsonSchema): Record<string, JsonSchema> {
  return { ...Object.assign({}, ...(s.allOf ?? []).map(propertiesOf)), ...(s.properties ?? {}) };
}

function requiredOf(s: JsonSchema): string[] {
  return [...(s.required ?? []), ...(s.allOf ?? []).flatMap(requiredOf)];
}

function constraints(s: JsonSchema): string {
  const parts: string[] = [];
  if (s.enum) parts.push(`One of ${s.enum.map((v) => `\`${String(v)}\``).join(', ')}.`);
  if (s.pattern) parts.push(`Pattern \`${s.pattern}\`.`);
  if (s.allOf?.some((a) => a.$ref?.endsWith('/provenance'))) parts.push('Carries provenance (confidence, sources, checkedAt).');
  return parts.join(' ');
}

export function typeOf(s: JsonSchema): string {
  if (s.$ref) return refName(s.$ref);
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  if (s.type === 'array') return `${s.items ? typeOf(s.items) : 'any'}[]`;
  if (s.type === 'object' && typeof s.additionalProperties === 'object') return `map of ${typeOf(s.additionalProperties)}`;
  const type = Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? (s.allOf ? 'object' : 'any'));
  return s.format ? `${type} (${s.format})` : type;
}

function refName(ref: string): string {
  const [file, pointer] = ref.split('#');
  const name = pointer?.split('/').pop() ?? '';
  return file ? `${name || file} (${file})` : name;
}
