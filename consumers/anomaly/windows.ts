import { CostEvent } from '../../src/events';
import { SpikeDetector } from './detectors/spike-detector';
import { resolve } from './lifecycle';
import { applyReport, ClosedWindow, medianSpend, OpenWindow, PersonaState, windowAt } from './persona-state';
import { addContribution, rootCauses } from './root-causes';
import { addWindow, newSeasonal, SeasonalBaseline, seasonalBaseline } from './seasonal';
import { AnomalySettings } from './settings';
import { AnomalyRecord } from './types';

/** Whether a persona has seasonal baselines (per persona or team, from Postgres), or undefined for the default. */
export type SeasonalSwitch = (personaId: string) => boolean | undefined;

/**
 * Per-persona tumbling windows in event time and the spike detector judged on them. A window
 * closes when the partition's watermark passes its end; events for closed windows are late.
 */
export class Windows {
  private readonly spike: SpikeDetector;
  private readonly historyMax: number;
  /**
   * A window's seasonal baseline, looked up once: it depends only on the window's hour and on
   * hours already folded into the profile before that hour began.
   */
  private readonly seasonalOf = new WeakMap<OpenWindow, SeasonalBaseline | null>();

  constructor(private readonly s: AnomalySettings, private readonly seasonalFor: SeasonalSwitch = () => undefined) {
    this.spike = new SpikeDetector({ spike: s.spike, minBaselineNano: s.minBaselineNano, minSpendNano: s.minSpendNano, minBaselineWindows: s.minBaselineWindows });
    this.historyMax = s.baselineWindows + 1;
  }

  /** Adds an event's cost to its window and judges the spike; false when its window has closed (late). */
  add(persona: PersonaState, e: CostEvent, t: number, wm: number, publishedAt: number, wall: number, out: AnomalyRecord[]): boolean {
    const ws = Math.floor(t / this.s.windowMs) * this.s.windowMs;
    if (ws + this.s.windowMs <= wm) return false;
    const w = windowAt(persona, ws);
    w.cost += e.amount;
    w.lastIds.push(e.event_id);
    if (w.lastIds.length > this.s.maxTriggeringIds) w.lastIds.shift();
    w.lastPublishedAt = publishedAt;
    addContribution((w.contrib ??= []), e);
    if (e.amount > 0n) this.evaluateSpike(persona, w, publishedAt, wall, out);
    return true;
  }

  close(persona: PersonaState, wm: number, wall: number, out: AnomalyRecord[]): void {
    while (persona.open.length > 0 && persona.open[0].start + this.s.windowMs <= wm) {
      const w = persona.open.shift()!;
      this.closeWindow(persona, w, wall, out);
    }
  }

  private closeWindow(persona: PersonaState, w: OpenWindow, wall: number, out: AnomalyRecord[]): void {
    if (w.cost <= 0n) return;
    // Spikes are judged on every cost event; judge the window once more as it closes, against the
    // baseline before it, in case its events were read while earlier windows were still open (the
    // watermark waits for the slower input while a backlog is read). Same severity emits nothing.
    this.evaluateSpike(persona, w, w.lastPublishedAt ?? null, wall, out);
    const closed: ClosedWindow = { start: w.start, cost: w.cost };
    const before = persona.history;
    before.push(closed);
    if (before.length > this.historyMax) before.splice(0, before.length - this.historyMax);
    const { median, windows } = medianSpend(before, this.s.baselineWindows);
    persona.spikeBaseline = median;
    persona.spikeBaselineWindows = windows;
    persona.lastMix = w.contrib ?? [];
    if (this.seasonalOn(persona.personaId)) addWindow((persona.seasonal ??= newSeasonal(this.s.seasonalWeeks)), w.start, w.cost);
    else persona.seasonal = null;
  }

  private seasonalOn(personaId: string): boolean {
    return this.seasonalFor(personaId) ?? this.s.seasonal;
  }

  /** The baseline a window is judged against: its hour's seasonal median when there is one, else the rolling median. */
  private baselineOf(persona: PersonaState, w: OpenWindow): { baseline: bigint | null; windows: number; floor: number; kind: string } {
    let seasonal: SeasonalBaseline | null = null;
    if (persona.seasonal && this.seasonalOn(persona.personaId)) {
      const cached = this.seasonalOf.get(w);
      if (cached !== undefined) seasonal = cached;
      else {
        seasonal = seasonalBaseline(persona.seasonal, w.start, this.s.seasonalMinWeeks);
        this.seasonalOf.set(w, seasonal);
      }
    }
    if (seasonal && persona.spikeBaselineWindows >= this.s.minBaselineWindows) {
      // The higher of what this hour usually spends and the rolling median: the first minutes of an
      // hour that is usually quiet still follow a busy hour (hour buckets are coarser than windows).
      const rolling = persona.spikeBaseline ?? 0n;
      const baseline = seasonal.median > rolling ? seasonal.median : rolling;
      return { baseline, windows: persona.spikeBaselineWindows, floor: Number(seasonal.median) + this.s.seasonalSpreadZ * seasonal.spread, kind: seasonal.median > rolling ? seasonal.kind : `${seasonal.kind}|rolling` };
    }
    return { baseline: persona.spikeBaseline, windows: persona.spikeBaselineWindows, floor: 0, kind: 'rolling' };
  }

  private evaluateSpike(persona: PersonaState, w: OpenWindow, publishedAt: number | null, wall: number, out: AnomalyRecord[]): void {
    const b = this.baselineOf(persona, w);
    const finding = this.spike.evaluate({ spend: w.cost, baseline: b.baseline, baselineWindows: b.windows });
    if (!finding || Number(w.cost) < b.floor) return;
    finding.details = { ...finding.details, baseline_kind: b.kind };
    finding.rootCauses = rootCauses(w.contrib ?? [], b.baseline, persona.lastMix ?? []);
    applyReport(persona, 'cost_spike', {
      personaId: persona.personaId, slot: 'cost_spike', windowKey: w.start, windowStart: w.start, windowEnd: w.start + this.s.windowMs,
      postId: null, finding, triggeringIds: [...w.lastIds].reverse(), triggerPublishedAt: publishedAt, now: wall,
    }, out);
  }

  /** A spike clears when the window after the last one that spiked has closed without spiking. */
  resolveExpired(persona: PersonaState, wm: number, wall: number, out: AnomalyRecord[]): void {
    const spike = persona.anomalies.cost_spike;
    if (spike && wm >= spike.lastWindowStart + 2 * this.s.windowMs) {
      out.push(resolve(spike, persona.personaId, wall, 'the next window closed below the spike threshold'));
      delete persona.anomalies.cost_spike;
    }
  }
}
