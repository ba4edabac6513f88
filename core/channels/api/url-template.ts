import { ConnectorConfigError } from '../../errors.js';
import type { AppSettings } from '../../schema/types/tenant-profile.js';

/**
 * A URL template filled from the tenant's settings: {baseUrl} and {settings.name}. Throws
 * ConnectorConfigError naming the setting when the profile lacks it. Kept apart from the
 * declarative executor so that planning (which only needs the URL) does not load the HTTP client.
 */
export function fillUrlTemplate(connector: string, template: string, settings: AppSettings): string {
  return template.replace(/\{(baseUrl|settings\.([A-Za-z][A-Za-z0-9_]*))\}/g, (_, key: string, name?: string) => {
    const value = name ? settings.settings?.[name] : settings.baseUrl;
    if (!value) throw new ConnectorConfigError(connector, name ? `settings.${name}` : 'baseUrl', `is not in the tenant profile (apps.${connector}.${name ? `settings.${name}` : 'baseUrl'}), and the manifest's URL ${template} needs it`);
    return name ? encodeURIComponent(value) : value.replace(/\/$/, '');
  });
}
