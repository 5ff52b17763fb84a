import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from './free-port';
import { stackDir } from './stack-dir';

export interface PrivateKafkaOptions {
  /** Extra server.properties lines (e.g. a second listener). */
  extraConfig?: string[];
  /** Extra listeners, e.g. `SASL_SSL://127.0.0.1:<port>`, added to listeners and advertised.listeners. */
  extraListeners?: string[];
  /** Extra security-protocol map entries, e.g. `SASL_SSL:SASL_SSL`. */
  extraProtocolMap?: string[];
  /** Extra `kafka-storage format` arguments, e.g. `--add-scram SCRAM-SHA-512=[name=alice,password=…]`. */
  formatArgs?: string[];
  readyTimeoutMs?: number;
}

/**
 * A single-node KRaft broker of its own (own ports, own data directory), started from the jars the
 * local stack fetched, for tests that stop and restart a broker without touching the shared one.
 * `stop()` kills it (data kept); `start()` brings the same broker back on the same port.
 */
export class PrivateKafka {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'finops-kafka-'));
  port = 0;
  private controllerPort = 0;
  private child: ChildProcess | undefined;
  private formatted = false;

  constructor(private readonly options: PrivateKafkaOptions = {}) {}

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  private get classpath(): string {
    const libs = path.join(stackDir(), 'kafka-libs');
    if (!fs.existsSync(libs)) throw new Error(`no Kafka jars in ${libs}: run 'bash stack/stack.sh up' first`);
    return `${libs}/*`;
  }

  private writeConfig(): string {
    const file = path.join(this.dir, 'server.properties');
    const listeners = [`PLAINTEXT://127.0.0.1:${this.port}`, ...(this.options.extraListeners ?? [])];
    fs.writeFileSync(
      file,
      [
        'node.id=1',
        'process.roles=broker,controller',
        `controller.quorum.voters=1@127.0.0.1:${this.controllerPort}`,
        'controller.listener.names=CONTROLLER',
        `listeners=${[...listeners, `CONTROLLER://127.0.0.1:${this.controllerPort}`].join(',')}`,
        `advertised.listeners=${listeners.join(',')}`,
        `listener.security.protocol.map=${['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT', ...(this.options.extraProtocolMap ?? [])].join(',')}`,
        'inter.broker.listener.name=PLAINTEXT',
        `log.dirs=${path.join(this.dir, 'data')}`,
        'num.partitions=3',
        'offsets.topic.replication.factor=1',
        'offsets.topic.num.partitions=3',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'group.initial.rebalance.delay.ms=0',
        'auto.create.topics.enable=false',
        ...(this.options.extraConfig ?? []),
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(this.dir, 'log4j.properties'),
      ['log4j.rootLogger=WARN, file', 'log4j.appender.file=org.apache.log4j.FileAppender', `log4j.appender.file.File=${path.join(this.dir, 'server.log')}`,
        'log4j.appender.file.layout=org.apache.log4j.PatternLayout', 'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n', ''].join('\n'),
    );
    return file;
  }

  /** Starts the broker (formatting its storage the first time) and waits until it serves metadata. */
  async start(): Promise<void> {
    if (this.child) return;
    if (!this.port) {
      this.port = await freePort();
      this.controllerPort = await freePort();
    }
    const config = this.writeConfig();
    const log4j = `-Dlog4j.configuration=file:${path.join(this.dir, 'log4j.properties')}`;
    if (!this.formatted) {
      execFileSync('java', ['-cp', this.classpath, log4j, 'kafka.tools.StorageTool', 'format', '-t', 'cHJpdmF0ZWthZmthMDAwMQ', '-c', config, ...(this.options.formatArgs ?? [])], { stdio: 'ignore' });
      this.formatted = true;
    }
    const out = fs.openSync(path.join(this.dir, 'kafka.out'), 'a');
    this.child = spawn('java', ['-Xms128m', '-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true', log4j,
      '-cp', this.classpath, 'kafka.Kafka', config], { stdio: ['ignore', out, out] });
    const child = this.child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    await this.waitReady(this.options.readyTimeoutMs ?? 60_000);
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const kafka = new Kafka({ clientId: 'private-kafka-probe', brokers: [this.brokers], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000 });
    for (;;) {
      if (!this.child) throw new Error(`private Kafka exited during start; see ${path.join(this.dir, 'kafka.out')}`);
      const admin = kafka.admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        await admin.disconnect();
        if (cluster.brokers.length > 0 && cluster.controller !== null) return;
      } catch {
        await admin.disconnect().catch(() => undefined);
      }
      if (Date.now() > deadline) throw new Error(`private Kafka not ready after ${timeoutMs} ms; see ${this.dir}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Stops the broker: SIGKILL by default (an outage), SIGTERM for a clean shutdown. Data is kept. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.child = undefined;
  }

  /** Freezes the broker (SIGSTOP): connections stay open and nothing answers, as across a network partition. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** Thaws a paused broker (SIGCONT). */
  resume(): void {
    this.child?.kill('SIGCONT');
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Stops the broker and removes its data. */
  async destroy(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
