// A fixed-width bar: filled by `ratio` (0..1), or a moving block when the total is not known yet.
import { Text } from 'ink';

export function progressBar(ratio: number | null, width: number, tick = 0): string {
  const w = Math.max(1, width);
  if (ratio === null) {
    const block = Math.max(1, Math.floor(w / 4));
    const span = w + block;
    const start = (tick % span) - block;
    let out = '';
    for (let i = 0; i < w; i++) out += i >= start && i < start + block ? '█' : '░';
    return out;
  }
  const r = Math.max(0, Math.min(1, ratio));
  const full = Math.floor(r * w);
  return '█'.repeat(full) + '░'.repeat(w - full);
}

export function ProgressBar({ ratio, width, color, tick }: { ratio: number | null; width: number; color?: string; tick?: number }) {
  return <Text color={color}>{progressBar(ratio, width, tick)}</Text>;
}
