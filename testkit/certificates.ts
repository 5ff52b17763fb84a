import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CertificateFiles {
  dir: string;
  /** The CA that signed the server and client certificates. */
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Server key then certificate in one PEM file (Kafka's `ssl.keystore.type=PEM` with a location). */
  serverPem: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing here: trusting it instead of `caCert` must fail. */
  otherCaCert: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=finops test ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function makeLeaf(dir: string, name: string, subjectAltNames: string[], usage: string): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  const ext = [`extendedKeyUsage=${usage}`, 'keyUsage=critical,digitalSignature,keyEncipherment', 'basicConstraints=CA:FALSE',
    ...(subjectAltNames.length ? [`subjectAltName=${subjectAltNames.join(',')}`] : [])];
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext.join('\n') + '\n');
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
}

/**
 * A throw-away CA with a server certificate (for the given names, e.g. `DNS:localhost`, `IP:127.0.0.1`)
 * and a client certificate, made with `openssl` (EC P-256 keys, valid two days) in a fresh directory.
 */
export function makeCertificates(serverNames: string[] = ['DNS:localhost', 'IP:127.0.0.1']): CertificateFiles {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'finops-tls-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'server', serverNames, 'serverAuth');
  makeLeaf(dir, 'client', [], 'clientAuth');
  const f = (name: string) => path.join(dir, name);
  fs.writeFileSync(f('server.pem'), fs.readFileSync(f('server.key'), 'utf8') + fs.readFileSync(f('server.crt'), 'utf8'));
  return {
    dir,
    caCert: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    serverPem: f('server.pem'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    otherCaCert: f('other-ca.crt'),
  };
}
