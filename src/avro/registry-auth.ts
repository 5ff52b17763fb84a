import { Overrides, setting } from '../config';
import { secretSetting } from '../config/files';
import { ConfigError } from '../errors';

/** Where and how to call the registry: a URL without credentials, the headers that carry them, and a URL safe to log. */
export interface RegistryTarget {
  baseUrl: string;
  headers: Record<string, string>;
  /** The base URL with any credentials removed: the only form that goes into logs and errors. */
  displayUrl: string;
}

/**
 * Registry credentials come from the URL (`https://user:pass@host/…`) or from SCHEMA_REGISTRY_USERNAME
 * and SCHEMA_REGISTRY_PASSWORD (or _FILE), never both, and are sent as HTTP Basic authentication.
 * fetch() refuses URLs with credentials, so they are always moved into the header.
 */
export function registryTarget(url: string, overrides: Overrides = {}): RegistryTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined as unknown as URL;
  }
  // The value is not echoed: a malformed URL may still hold a password.
  if (!parsed || !/^https?:$/.test(parsed.protocol)) {
    throw new ConfigError('SCHEMA_REGISTRY_URL is not an http(s) URL; set it to e.g. https://registry.example.com/apis/ccompat/v7');
  }
  const fromUrl = { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
  const fromSettings = { username: setting('SCHEMA_REGISTRY_USERNAME', overrides), password: secretSetting('SCHEMA_REGISTRY_PASSWORD', overrides) };
  const urlHas = Boolean(fromUrl.username || fromUrl.password);
  const settingsHave = Boolean(fromSettings.username || fromSettings.password);
  if (urlHas && settingsHave) {
    throw new ConfigError('SCHEMA_REGISTRY_URL carries credentials and SCHEMA_REGISTRY_USERNAME/SCHEMA_REGISTRY_PASSWORD are set too; keep one of the two');
  }
  const credentials = urlHas ? fromUrl : fromSettings;
  if ((urlHas || settingsHave) && !(credentials.username && credentials.password)) {
    throw new ConfigError(`registry credentials need both a user and a password; ${urlHas ? 'write SCHEMA_REGISTRY_URL as https://user:password@host/…' : 'set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD (or SCHEMA_REGISTRY_PASSWORD_FILE)'}`);
  }
  parsed.username = '';
  parsed.password = '';
  const baseUrl = parsed.toString().replace(/\/+$/, '');
  const headers: Record<string, string> = credentials.username
    ? { authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` }
    : {};
  return { baseUrl, headers, displayUrl: baseUrl };
}
