/** Token that never repeats (time, process-local counter, randomness), for version keys. */
let counter = 0;
export function uniqueToken(): string {
  counter = (counter + 1) % 1e9;
  return `${Date.now().toString(36)}.${counter.toString(36)}.${Math.random().toString(36).slice(2, 10)}`;
}
