import { CostGuard } from '../cost-guard';
import { CostTracker } from '../cost-tracker';

let tracker: CostTracker | undefined;
let guard: Promise<CostGuard> | undefined;

/** The process's shared tracker for instrumented clients given none, configured from the environment. */
export function defaultCostTracker(): CostTracker {
  return (tracker ??= new CostTracker());
}

/** The process's shared cost guard for instrumented clients given none, configured from the environment. */
export function defaultCostGuard(): Promise<CostGuard> {
  return (guard ??= new CostGuard().start());
}

/** Flushes and closes the shared tracker and guard (on shutdown). */
export async function closeDefaultCostInstruments(): Promise<void> {
  const [t, g] = [tracker, guard];
  tracker = guard = undefined;
  await Promise.all([t?.close(), g?.then((x) => x.close())]);
}
