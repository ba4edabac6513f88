import { PatchbayError } from '../../errors.js';
import type { ConnectorManifest } from '../../schema/types/connector-manifest.js';
import type { AppSettings } from '../../schema/types/tenant-profile.js';
import { fillUrlTemplate } from '../api/url-template.js';

/** Where an app's SCIM service is for one tenant, or the setting that is missing to know it. */
export type ScimEndpoint = { readonly url: string; readonly from: 'profile' | 'manifest' } | { readonly missing: string };

/**
 * The SCIM base URL of an app for a tenant. A manifest may declare a surface of kind `scim` whose
 * base URL is a template (Figma: `https://www.figma.com/scim/v2/{settings.tenantId}`):
 * - a template that uses `{baseUrl}` is always filled, `{baseUrl}` being the tenant's host;
 * - otherwise the tenant's `apps.<id>.baseUrl`, when given, is the SCIM base URL itself (a proxy,
 *   a regional host, a stand-in) and wins over the template;
 * - without either, the generic answer: the tenant must give `apps.<id>.baseUrl`.
 * Never throws: a setting the template needs and the profile lacks is said in `missing`.
 */
export function scimEndpoint(manifest: ConnectorManifest, settings: AppSettings): ScimEndpoint {
  const template = Object.values(manifest.surfaces ?? {}).find((s) => s.kind === 'scim')?.baseUrl.value;
  if (settings.baseUrl && !template?.includes('{baseUrl}')) return { url: settings.baseUrl, from: 'profile' };
  if (!template) return { missing: `no SCIM base URL in the tenant profile (apps.${manifest.id}.baseUrl)` };
  try {
    return { url: fillUrlTemplate(manifest.id, template, settings), from: 'manifest' };
  } catch (error) {
    if (!(error instanceof PatchbayError)) throw error;
    return { missing: error.message };
  }
}
