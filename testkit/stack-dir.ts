import path from 'node:path';

/** Where `stack/stack.sh` keeps its data and downloads (FINOPS_STACK_DIR, or `.stack` in the repository). */
export function stackDir(): string {
  return process.env.FINOPS_STACK_DIR ?? path.resolve(__dirname, '..', '.stack');
}
