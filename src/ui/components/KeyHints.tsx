// The hint bar: the main keys of the screen, dropping the least important ones when the line is short.
import { Text } from 'ink';
import type { KeyBinding } from '../keys.js';
import { useTheme } from '../theme.js';

export function hintLine(bindings: KeyBinding[], width: number): string {
  const hints = bindings.flatMap((b) => (b.hint ? [b.hint] : []));
  const kept = new Set(hints);
  const render = () =>
    hints
      .filter((h) => kept.has(h))
      .map((h) => h.label)
      .join('  ');
  const byDropOrder = hints.slice().sort((a, b) => b.rank - a.rank);
  for (const h of byDropOrder) {
    if (render().length <= width) break;
    if (h.rank > 0) kept.delete(h);
  }
  return render();
}

export function KeyHints({ bindings, width }: { bindings: KeyBinding[]; width: number }) {
  const theme = useTheme();
  return (
    <Text color={theme.muted} wrap="truncate-end">
      {hintLine(bindings, width)}
    </Text>
  );
}
