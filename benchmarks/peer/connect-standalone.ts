/**
 * One Kafka Connect worker in standalone mode (org.apache.kafka.connect.cli.ConnectStandalone)
 * running one connector: the worker and connector properties are written into a temporary
 * directory, which also holds the worker's offsets file and its log.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ConnectLibs } from './connect-libs';

export type Properties = Record<string, string | number | boolean>;

export interface ConnectorStatus {
  connector: { state: string; trace?: string };
  tasks: { id: number; state: string; trace?: string }[];
}

export interface StandaloneWorker {
  child: ChildProcess;
  /** Milliseconds since the epoch at which the JVM was spawned. */
  spawnedAt: number;
  restUrl: string;
  logFile: string;
  exited: Promise<number | null>;
  /** The connector's status from the worker's REST API, or undefined before the API answers. */
  status(): Promise<ConnectorStatus | undefined>;
  /** The last lines of the worker's log. */
  logTail(lines?: number): string;
  /** What the JVM wrote to stdout (thread dumps on SIGQUIT). */
  stdout(): string;
  /** SIGTERM (Connect stops its tasks and commits their offsets), SIGKILL after the grace period. */
  stop(graceMs?: number): Promise<void>;
}

/** Java properties text; values here are plain (no newlines), keys are escaped where needed. */
export function propertiesText(props: Properties): string {
  const escapeKey = (k: string) => k.replace(/([\\:= ])/g, '\\$1');
  const escapeValue = (v: string) => v.replace(/\\/g, '\\\\');
  return `${Object.entries(props)
    .map(([k, v]) => `${escapeKey(k)}=${escapeValue(String(v))}`)
    .join('\n')}\n`;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const LOG4J = `log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=\${connect.log.file}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.reflections=ERROR
log4j.logger.org.hibernate=WARN
log4j.logger.com.mchange=WARN
`;

export async function startStandaloneWorker(opts: {
  libs: ConnectLibs;
  /** Worker properties; bootstrap.servers, converters etc. (plugin.path, REST listener and offsets file are added). */
  worker: Properties;
  connector: Properties;
  heapMb?: number;
}): Promise<StandaloneWorker> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'finops-connect-'));
  const port = await freePort();
  const restUrl = `http://127.0.0.1:${port}`;
  const logFile = path.join(dir, 'connect.log');
  const worker: Properties = {
    ...opts.worker,
    'plugin.path': opts.libs.plugins,
    listeners: restUrl,
    'offset.storage.file.filename': path.join(dir, 'connect.offsets'),
  };
  fs.writeFileSync(path.join(dir, 'worker.properties'), propertiesText(worker));
  fs.writeFileSync(path.join(dir, 'connector.properties'), propertiesText(opts.connector));
  fs.writeFileSync(path.join(dir, 'log4j.properties'), LOG4J);
  const heap = opts.heapMb ?? 1024;
  const args = [
    `-Xms256m`,
    `-Xmx${heap}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${path.join(dir, 'log4j.properties')}`,
    `-Dconnect.log.file=${logFile}`,
    '-cp',
    `${opts.libs.runtime}/*`,
    'org.apache.kafka.connect.cli.ConnectStandalone',
    path.join(dir, 'worker.properties'),
    path.join(dir, 'connector.properties'),
  ];
  const spawnedAt = Date.now();
  const outFile = path.join(dir, 'connect.out');
  const child = spawn('java', args, { stdio: ['ignore', fs.openSync(outFile, 'w'), fs.openSync(path.join(dir, 'connect.err'), 'w')] });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  const connectorName = String(opts.connector.name);

  const logTail = (lines = 40) => {
    const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
    const text = read(logFile) + read(path.join(dir, 'connect.err'));
    return text.split('\n').slice(-lines).join('\n');
  };

  return {
    child,
    spawnedAt,
    restUrl,
    logFile,
    exited,
    logTail,
    stdout: () => (fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : ''),
    async status() {
      try {
        const res = await fetch(`${restUrl}/connectors/${encodeURIComponent(connectorName)}/status`, { signal: AbortSignal.timeout(2000) });
        return res.ok ? ((await res.json()) as ConnectorStatus) : undefined;
      } catch {
        return undefined;
      }
    },
    async stop(graceMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      if (!process.env.PEER_KEEP_CONNECT_DIR) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
