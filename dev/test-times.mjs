// A node:test reporter that prints how long each test file took, slowest first: from the moment the runner
// started the file to its last event (`dev/run-tests.sh --times`). What to look at when the suite is slow.
import { relative } from 'node:path';

export default async function* testTimes(source) {
  const started = new Map();
  const last = new Map();
  const failed = new Set();
  const t0 = Date.now();
  for await (const event of source) {
    const file = event.data?.file;
    if (!file) continue;
    const now = Date.now();
    if (event.type === 'test:dequeue' && event.data.nesting === 0 && event.data.name === file && !started.has(file)) started.set(file, now);
    last.set(file, now);
    if (event.type === 'test:fail') failed.add(file);
  }
  const rows = [...last].map(([file, end]) => [(end - (started.get(file) ?? t0)) / 1000, relative(process.cwd(), file)]);
  rows.sort((a, b) => b[0] - a[0]);
  yield `\ntest times (${rows.length} files, ${((Date.now() - t0) / 1000).toFixed(0)} s wall):\n`;
  for (const [s, file] of rows) yield `${s.toFixed(1).padStart(8)} s  ${file}${failed.has(file) ? '  (failed)' : ''}\n`;
}
