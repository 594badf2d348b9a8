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

/** Splits `text` into lines of at most `width` characters at spaces (a longer word is cut). */
function wrapWords(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = '';
    }
    line = line ? `${line} ${word}` : word.slice(0, Math.max(1, width));
  }
  if (line) out.push(line);
  return out;
}

/** The help as lines for a box `width` wide: a key, then its action wrapped under the action column. */
export function helpLines(width = 200): Array<{ text: string; isTitle?: boolean }> {
  const keyWidth = Math.max(...SECTIONS.flatMap((s) => s.keys.map((k) => k.keys.length)));
  const indent = 2 + keyWidth + 2;
  // Inside the border (2) and the padding (2).
  const actionWidth = Math.max(20, width - 4 - indent);
  const lines: Array<{ text: string; isTitle?: boolean }> = [];
  for (const s of SECTIONS) {
    lines.push({ text: s.title, isTitle: true });
    for (const k of s.keys) {
      wrapWords(k.action, actionWidth).forEach((part, i) => {
        lines.push({ text: `${i === 0 ? `  ${k.keys.padEnd(keyWidth)}  ` : ' '.repeat(indent)}${part}` });
      });
    }
  }
  return lines;
}

/** Lines of help that fit inside the overlay's border and title. */
export function helpPageSize(height: number): number {
  return Math.max(1, height - 3);
}

export function HelpOverlay({ width, height, scroll }: { width: number; height: number; scroll: number }) {
  const theme = useTheme();
  const isWide = width >= 120;
  const inner = helpPageSize(height);
  const oneColumn = helpLines(width);
  // Two columns when the list is taller than the box and the screen is wide enough; else it scrolls.
  const isTwoColumns = oneColumn.length > inner && isWide;
  const lines = isTwoColumns ? helpLines(Math.floor(width / 2)) : oneColumn;
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
