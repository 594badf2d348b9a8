// Bounded concurrency: many independent async jobs (manifests to read, tables of one layer, drill tables)
// with at most a fixed number in flight, so a large list never opens a connection or a file per item.

/** Runs `fn` over `items` with at most `limit` calls in flight (at least one); results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return out;
}
