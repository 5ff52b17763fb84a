import fs from 'node:fs';
import { defaults, SettingName } from './defaults';
import { Overrides, setting } from './index';
import { ConfigError } from '../errors';

/** Settings that have a `<NAME>_FILE` twin: the secret itself, or a file holding it (a mounted Secret). */
export type SecretSettingName = { [K in SettingName]: `${K}_FILE` extends SettingName ? K : never }[SettingName];

function readSettingFile(name: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(`${name}=${file} cannot be read (${code}); point ${name} at a readable file, or leave it empty`);
  }
}

/**
 * A secret from `<NAME>` or from the file named by `<NAME>_FILE` (one trailing newline dropped),
 * never both. The value is never part of an error message.
 */
export function secretSetting(name: SecretSettingName, overrides: Overrides = {}): string {
  const fileName = `${name}_FILE` as SettingName;
  if (!(fileName in defaults)) throw new Error(`${fileName} is not a setting`);
  const direct = setting(name, overrides);
  const file = setting(fileName, overrides);
  if (direct && file) throw new ConfigError(`${name} and ${fileName} are both set; keep one (${fileName} for a mounted Secret)`);
  return file ? readSettingFile(fileName, file).replace(/\r?\n$/, '') : direct;
}

/** The contents of the PEM file a setting names, or undefined when the setting is empty. */
export function pemFileSetting(name: SettingName, overrides: Overrides = {}): string | undefined {
  const file = setting(name, overrides);
  if (!file) return undefined;
  const pem = readSettingFile(name, file);
  if (!pem.includes('-----BEGIN ')) throw new ConfigError(`${name}=${file} is not a PEM file (no "-----BEGIN" line); convert it with openssl, e.g. \`openssl x509 -in cert.der -inform der -out cert.pem\``);
  return pem;
}

/** A certificate and its key: both or neither. */
export function certificatePair(certName: SettingName, keyName: SettingName, overrides: Overrides = {}): { cert?: string; key?: string } {
  const cert = pemFileSetting(certName, overrides);
  const key = pemFileSetting(keyName, overrides);
  if (Boolean(cert) !== Boolean(key)) {
    const [set, unset] = cert ? [certName, keyName] : [keyName, certName];
    throw new ConfigError(`${set} is set but ${unset} is not; a client certificate needs its key: set both, or neither`);
  }
  return cert ? { cert, key } : {};
}
