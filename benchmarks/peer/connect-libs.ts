/**
 * The jars of the Kafka Connect peer, fetched from Maven Central by `stack/connect/pom.xml` into
 * `$FINOPS_STACK_DIR/connect-libs` once and kept there (as stack/stack.sh keeps kafka-libs):
 *   runtime/   the Connect worker (connect-runtime, connect-json, connect-transforms, Kafka 3.9.1)
 *   plugins/   one directory per plugin, loaded through plugin.path in its own class loader
 * A marker holding a hash of the poms tells a complete fetch of the current poms from a stale or
 * interrupted one.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const POM_DIR = path.join(ROOT, 'stack/connect');
const POMS = ['pom.xml', 'runtime/pom.xml', 'debezium-jdbc/pom.xml', 'apicurio-converter/pom.xml'];
const MARKER = '.fetched';
/** Bumped when what ensureConnectLibs adds beside the fetched jars changes. */
const LAYOUT = 2;
const APICURIO_CONVERTERS = ['io.apicurio.registry.utils.converter.AvroConverter', 'io.apicurio.registry.utils.converter.ExtJsonConverter', 'io.apicurio.registry.utils.converter.SerdeBasedConverter'];

export interface ConnectLibs {
  /** Directory whose jars form the worker's classpath. */
  runtime: string;
  /** The worker's plugin.path. */
  plugins: string;
}

export function connectLibsDir(stackDir = process.env.FINOPS_STACK_DIR || path.join(ROOT, '.stack')): string {
  return path.join(stackDir, 'connect-libs');
}

function pomsHash(): string {
  const hash = createHash('sha256');
  hash.update(`layout ${LAYOUT}\n`);
  for (const pom of POMS) hash.update(fs.readFileSync(path.join(POM_DIR, pom)));
  return hash.digest('hex');
}

function run(cmd: string, args: string[], log: (msg: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => reject(new Error(`${cmd} could not start (${err.message}); it comes with Maven (apt-get install maven) or a JDK`)));
    child.once('exit', (code) => {
      if (code === 0) return resolve();
      log(output);
      reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`));
    });
  });
}

/**
 * Apicurio's converter jar has no ServiceLoader manifest, so Connect would have to scan every
 * plugin jar by reflection at start-up (plugin.discovery=hybrid_*). This writes the manifest
 * Kafka's `connect-plugin-path sync-manifests` would, as a jar of its own in the plugin directory,
 * and lets the worker start with plugin.discovery=service_load.
 */
async function writeConverterManifest(pluginDir: string, log: (msg: string) => void): Promise<void> {
  const work = fs.mkdtempSync(path.join(pluginDir, '.manifest-'));
  try {
    fs.mkdirSync(path.join(work, 'META-INF/services'), { recursive: true });
    fs.writeFileSync(path.join(work, 'META-INF/services/org.apache.kafka.connect.storage.Converter'), `${APICURIO_CONVERTERS.join('\n')}\n`);
    await run('jar', ['--create', '--file', path.join(pluginDir, 'finops-service-manifests.jar'), '-C', work, 'META-INF'], log);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Whether the plugin directories carry ServiceLoader manifests for every plugin used. */
export function hasServiceManifests(libs: ConnectLibs): boolean {
  return fs.existsSync(path.join(libs.plugins, 'apicurio-registry-converter/finops-service-manifests.jar'));
}

/** Returns the jar directories, fetching them first if they are missing or from other poms. */
export async function ensureConnectLibs(opts: { dir?: string; log?: (msg: string) => void } = {}): Promise<ConnectLibs> {
  const dir = opts.dir ?? connectLibsDir();
  const log = opts.log ?? (() => undefined);
  const libs = { runtime: path.join(dir, 'runtime'), plugins: path.join(dir, 'plugins') };
  const hash = pomsHash();
  const marker = path.join(dir, MARKER);
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === hash) return libs;

  log(`fetching the Kafka Connect, Debezium JDBC sink and Apicurio converter jars into ${dir}`);
  // Fetched beside the final directory and renamed into place, so an interrupted fetch or a
  // concurrent one never leaves a half-filled directory behind the marker.
  const staging = `${dir}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    await run('mvn', ['-q', '-B', '-Dstyle.color=never', '-f', path.join(POM_DIR, 'pom.xml'), 'dependency:copy-dependencies', `-Dconnect.libs=${staging}`], log);
    // Without a JDK's `jar` tool the worker still starts, scanning the jars instead.
    await writeConverterManifest(path.join(staging, 'plugins/apicurio-registry-converter'), log).catch((err) => log(`no ServiceLoader manifest for the converter (${(err as Error).message}); the worker will scan the plugin jars at start-up`));
    fs.writeFileSync(path.join(staging, MARKER), `${hash}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(staging, dir);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return libs;
}
