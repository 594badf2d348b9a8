// `?`: every key the TUI answers to, drawn from the same table the key handler documents.
import { Box, Text } from 'ink';
import { DETAILS_KEYS, DIALOG_KEYS, DRILL_KEYS, TABLE_KEYS, type KeyBinding } from '../keys.js';
import { useTheme } from '../theme.js';

const SECTIONS: Array<{ title: string; keys: KeyBinding[] }> = [
  { title: 'Tables', keys: TABLE_KEYS },
  { title: 'Details', keys: DETAILS_KEYS },
  { title: 'Drill mode', keys: DRILL_KEYS },
  { title: 'Dialogs', keys: DIALOG_KEYS },
];

export function helpLines(): Array<{ text: string; isTitle?: boolean }> {
  const keyWidth = Math.max(...SECTIONS.flatMap((s) => s.keys.map((k) => k.keys.length)));
  const lines: Array<{ text: string; isTitle?: boolean }> = [];
  for (const s of SECTIONS) {
    lines.push({ text: s.title, isTitle: true });
    for (const k of s.keys) lines.push({ text: `  ${k.keys.padEnd(keyWidth)}  ${k.action}` });
  }
  return lines;
}

/** Lines of help that fit inside the overlay's border and title. */
export function helpPageSize(height: number): number {
  return Math.max(1, height - 3);
}

export function HelpOverlay({ width, height, scroll }: { width: number; height: number; scroll: number }) {
  const theme = useTheme();
  const lines = helpLines();
  const inner = helpPageSize(height);
  // Two columns when the list is taller than the box and the screen is wide enough; else it scrolls.
  const isTwoColumns = lines.length > inner && width >= 120;
  const half = Math.ceil(lines.length / 2);
  const columns = isTwoColumns ? [lines.slice(0, half), lines.slice(half)] : [lines.slice(scroll, scroll + inner)];
  const canScroll = !isTwoColumns && lines.length > inner;
  return (
    <Box flexDirection="column" borderStyle="round" borderColor={theme.accent} width={width} height={height} paddingX={1}>
      <Text bold wrap="truncate-end">
        Keys{' '}
        <Text color={theme.muted}>
          ({canScroll ? `j/k scroll, ${Math.min(lines.length, scroll + inner)}/${lines.length} · ` : ''}esc or ? closes)
        </Text>
      </Text>
      <Box>
        {columns.map((col, ci) => (
          <Box key={ci} flexDirection="column" width={isTwoColumns ? Math.floor((width - 4) / 2) : width - 4}>
            {col.slice(0, inner).map((l, i) => (
              <Text key={i} bold={l.isTitle} color={l.isTitle ? theme.accent : undefined} wrap="truncate-end">
                {l.text}
              </Text>
            ))}
          </Box>
        ))}
      </Box>
    </Box>
  );
}
