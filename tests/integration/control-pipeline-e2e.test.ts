import { FAST_ANOMALY_SETTINGS } from '../../testkit/pipeline-settings';
import { CostGuard, CostTracker, PausedError, ThrottledError } from '../../producers';
import { ControlLevel } from '../../src/contracts/controls';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { HttpReceiver, SmtpReceiver } from '../../testkit/receivers';
import { alertReceivers, guardFor, startRoles, trackerFor } from '../../testkit/in-process';
import { waitFor } from '../../testkit/wait-for';
import { AnomalyCollector } from './anomaly-support';

/**
 * The whole control path on the real stack, nothing hand-published: a test "service" spends
 * through the SDK CostTracker → the real anomaly consumer (2 s event-time windows) detects the
 * spike → alert consumer → Slack/PagerDuty/SMTP receivers, and → circuit breaker → Redis → the
 * SDK CostGuard the service asks before every model call.
 *
 * Where the spend comes from (and why it keeps rising while the guard is obeyed):
 *  - the service's LLM calls (gpt-4o, five a second) go through `guard.acquire` and obey it: a
 *    throttled call is dropped, a switched model is used, nothing is called while paused;
 *  - the persona also has infrastructure spend (render pods, `trackInfrastructureCost`) that the
 *    guard does not govern — the guard gates model calls only. In the spike a runaway job drives
 *    that spend up window after window, so spend keeps rising even though the service obeys, and
 *    the breaker escalates throttle → switch_model → pause. Once the pause is in force the runaway
 *    is stopped (standing in for the on-call engineer acting on the page) and infrastructure spend
 *    returns to its normal rate: recovery.
 * Spend is planned per event-time window so the spike windows land at ~3.2×, ~4×, ~6.9× the
 * baseline (medium → high → critical cost_spike states of one anomaly, ≥ 1.7 s apart).
 * The test paces its own traffic on a 100 ms tick (that is load generation, not synchronisation);
 * every wait on the pipeline is a waitFor poll.
 */
const WINDOW_MS = 2000;
const TICK_MS = 100;
const TICKS = WINDOW_MS / TICK_MS;
const BASELINE_WINDOWS = 5;
/** Infrastructure units (one = a 60 s pod at 2 cores / 4 GB ≈ $0.001336) per window. */
const NORMAL_UNITS = 4;
const SPIKE_UNITS = [14, 18, 31, 40, 50, 60];

describe('real pipeline: cost spike via the SDK → anomaly consumer → alerts and graduated controls obeyed by the guard → recovery', () => {
  let env: TestEnv;
  let http: HttpReceiver;
  let smtp: SmtpReceiver;
  let tracker: CostTracker;
  let guard: CostGuard;
  let collector: AnomalyCollector;

  beforeAll(async () => {
    env = await createTestEnv('ctlpipe');
    ({ http, smtp } = await alertReceivers(env));
    Object.assign(env.overrides, {
      ...FAST_ANOMALY_SETTINGS,
      ANOMALY_WINDOW_MS: String(WINDOW_MS),
      ANOMALY_BASELINE_WINDOWS: '20',
      ANOMALY_TICK_MS: '100',
      BREAKER_ESCALATE_MIN_INTERVAL_MS: '1000',
      BREAKER_PAUSE_SECONDS: '3',
      BREAKER_PROBE_SECONDS: '2',
      BREAKER_COOLDOWN_SECONDS: '600',
      BREAKER_TICK_MS: '100',
    });
    await startRoles(env, ['anomaly', 'alerts', 'breaker']);
    collector = await new AnomalyCollector(env).start();
    tracker = trackerFor(env);
    guard = await guardFor(env);
  });
  afterAll(() => env?.close());

  it('throttle, then model switch, then pause as spend keeps rising; the guard obeys each within a second; recovery after spend returns to normal', async () => {
    const persona = `${env.id}-ai_jesus`;

    // The guard as the service sees it: polled every 20 ms, first time each level is in force.
    const seen: { level: ControlLevel | 'probe'; at: number }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const { control } = await guard.control(persona);
        const level: ControlLevel | 'probe' = control?.probing ? 'probe' : control?.level ?? 'normal';
        if (seen[seen.length - 1]?.level !== level) seen.push({ level, at: Date.now() });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const firstSeen = (level: ControlLevel | 'probe') => seen.find((s) => s.level === level);

    // The service.
    const obeyed = { calls: 0, throttled: 0, paused: 0, models: new Set<string>() };
    const modelCall = async () => {
      let model: string;
      try {
        model = (await guard.acquire(persona, 'gpt-4o', { maxWaitMs: 0 })).model;
      } catch (err) {
        if (err instanceof ThrottledError) obeyed.throttled++;
        else if (err instanceof PausedError) obeyed.paused++;
        else throw err;
        return; // obeyed: no call, no spend
      }
      obeyed.calls++;
      obeyed.models.add(model);
      await tracker.trackOpenAICost({ model, inputTokens: 20, outputTokens: 2, operation: 'hook_generation', personaId: persona, service: 'persona_runtime' });
    };
    const infra = (units: number, operation: string) =>
      Promise.all(Array.from({ length: units }, () => tracker.trackInfrastructureCost({ cpuCores: '2', memoryGb: '4', durationMs: 60_000, operation, personaId: persona, service: 'render' })));

    // Traffic, one event-time window at a time, aligned on window boundaries.
    let phase: 'baseline' | 'spike' | 'recovery' = 'baseline';
    let windowIndex = 0;
    let spikeWindow = 0;
    let recovered = false;
    await new Promise((r) => setTimeout(r, WINDOW_MS - (Date.now() % WINDOW_MS))); // pace to a boundary
    const trafficStarted = Date.now();
    const traffic = (async () => {
      let tick = 0;
      while (!recovered && Date.now() - trafficStarted < 90_000) {
        const t = trafficStarted + tick * TICK_MS;
        if (t > Date.now()) await new Promise((r) => setTimeout(r, t - Date.now()));
        const j = tick % TICKS;
        if (j === 0 && tick > 0) {
          windowIndex++;
          if (phase === 'baseline' && windowIndex >= BASELINE_WINDOWS) phase = 'spike';
          else if (phase === 'spike') spikeWindow++;
        }
        // The runaway job is stopped once the pause is in force.
        if (phase === 'spike' && firstSeen('pause')) phase = 'recovery';
        const units = phase === 'spike' ? SPIKE_UNITS[Math.min(spikeWindow, SPIKE_UNITS.length - 1)] : NORMAL_UNITS;
        const share = Math.floor(((j + 1) * units) / TICKS) - Math.floor((j * units) / TICKS);
        await Promise.all([infra(share, phase === 'spike' ? 'runaway_render' : 'render'), j % 2 === 0 ? modelCall() : undefined]);
        tick++;
      }
    })();

    try {
      // 1. Throttle; alerts for the anomaly on Slack (medium), then PagerDuty (high) and email (critical).
      const throttle = await waitFor(() => firstSeen('throttle'), { what: 'throttle seen by the guard', timeoutMs: 40_000, intervalMs: 20 });
      await waitFor(() => obeyed.throttled > 0 || firstSeen('switch_model'), { what: 'a model call refused by the throttle', timeoutMs: 5000 });
      // 2. Spend still rising: model switch, and the service uses the substitute.
      const switched = await waitFor(() => firstSeen('switch_model'), { what: 'switch_model seen by the guard', timeoutMs: 10_000, intervalMs: 20 });
      await waitFor(() => obeyed.models.has('gpt-3.5-turbo-0125') || firstSeen('pause'), { what: 'a call made on the substitute model', timeoutMs: 5000 });
      // 3. Still rising: pause; the service stops calling.
      const paused = await waitFor(() => firstSeen('pause'), { what: 'pause seen by the guard', timeoutMs: 10_000, intervalMs: 20 });
      await waitFor(() => obeyed.paused > 0, { what: 'a model call refused by the pause', timeoutMs: 5000 });
      const callsWhenPaused = obeyed.calls;
      // 4. Spend back to normal: pause ends → half-open probe → normal.
      const probe = await waitFor(() => firstSeen('probe'), { what: 'half-open probe', timeoutMs: 15_000, intervalMs: 20 });
      const normal = await waitFor(() => seen.find((s) => s.level === 'normal' && s.at > probe.at), { what: 'back to normal', timeoutMs: 15_000, intervalMs: 20 });
      await waitFor(() => obeyed.calls > callsWhenPaused + 1, { what: 'model calls resume after recovery', timeoutMs: 5000 });
      expect((await guard.acquire(persona, 'gpt-4o', { maxWaitMs: 0 })).model).toBe('gpt-4o');
      recovered = true;
      await traffic;

      // What the real anomaly consumer published, and the breaker's audited transitions.
      const states = collector.forPersona(persona).filter((a) => a.anomaly_type === 'cost_spike');
      expect(states.filter((a) => a.status !== 'resolved').map((a) => `${a.status}:${a.severity}`)).toEqual(['open:medium', 'escalated:high', 'escalated:critical']);
      const audit = (await env.pool.query<{ to_level: string; cause: string; anomaly_id: string | null; anomaly_sequence: number | null; at: Date }>(
        'SELECT to_level, cause, anomaly_id, anomaly_sequence, at FROM control_transitions WHERE persona_id = $1 ORDER BY at, recorded_at', [persona])).rows;
      expect(audit.map((r) => `${r.to_level}:${r.cause}`)).toEqual(['throttle:trigger', 'switch_model:escalate', 'pause:escalate', 'throttle:probe', 'normal:recover']);

      const timings = [throttle, switched, paused].map((g, i) => {
        const tr = audit[i];
        const state = states.find((a) => a.anomaly_id === tr.anomaly_id && a.sequence === tr.anomaly_sequence)!;
        return {
          level: tr.to_level,
          crossing_to_guard_ms: g.at - state.trigger_published_at!.getTime(),
          decision_to_guard_ms: g.at - tr.at.getTime(),
        };
      });
      process.stderr.write(`control-pipeline-e2e: ${JSON.stringify({
        timings,
        probe_after_pause_ms: probe.at - paused.at,
        normal_after_probe_ms: normal.at - probe.at,
        service: { calls: obeyed.calls, throttled: obeyed.throttled, paused: obeyed.paused, models: [...obeyed.models] },
      })}\n`);
      for (const t of timings) {
        expect(t.decision_to_guard_ms).toBeLessThan(1000); // the guard obeys each control within a second
        expect(t.crossing_to_guard_ms).toBeLessThan(2000); // issue 4: crossing cost event → guard ≤ 2 s
      }

      // Slack, PagerDuty and email received for the spike (its critical state goes to all three).
      const id = states[0].anomaly_id;
      await waitFor(() => http.accepted('/slack').some((r) => r.body.text.includes(persona) && r.body.text.includes('ESCALATED')) && http.accepted('/pagerduty').some((r) => r.body.dedup_key === id && r.body.event_action === 'trigger') && smtp.messages.some((m) => m.alertId === id && m.sequence === String(states[2].sequence)),
        { what: 'Slack, PagerDuty and email for the spike' });
      // The anomaly resolves once a window closes clean, and PagerDuty is resolved.
      await waitFor(() => collector.forPersona(persona).some((a) => a.anomaly_id === id && a.status === 'resolved'), { what: 'anomaly resolved' });
      await waitFor(() => http.accepted('/pagerduty').some((r) => r.body.dedup_key === id && r.body.event_action === 'resolve'), { what: 'PagerDuty resolve' });
    } finally {
      recovered = true;
      polling = false;
      await traffic.catch(() => undefined);
      await poller.catch(() => undefined);
    }
  });
});
