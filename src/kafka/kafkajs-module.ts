/** The file of one of kafkajs's internal modules, or undefined where there is none (another kafkajs, a bundle). */
export function kafkajsModulePath(id: string): string | undefined {
  try {
    return require.resolve(`kafkajs/src/${id}`);
  } catch {
    return undefined;
  }
}
