import { Decimal } from '../exact';
import { Graded } from '../settings';
import { Severity } from '../types';

/** Severity from a graded threshold, given "does the value cross this level?". Null below the threshold. */
export function grade(crosses: (level: Decimal) => boolean, g: Graded): Severity | null {
  if (!crosses(g.threshold)) return null;
  if (crosses(g.critical)) return 'critical';
  if (crosses(g.high)) return 'high';
  return 'medium';
}
