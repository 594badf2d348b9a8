// A bordered question at the bottom of the screen; the keys that answer it are in keys.ts.
import { Box, Text } from 'ink';
import { useTheme } from '../theme.js';

export function Dialog({
  title,
  lines,
  width,
  tone = 'accent',
}: {
  title: string;
  lines: string[];
  width: number;
  tone?: 'accent' | 'warn';
}) {
  const theme = useTheme();
  const color = tone === 'warn' ? theme.warn : theme.accent;
  return (
    <Box flexDirection="column" borderStyle="round" borderColor={color} width={width} paddingX={1}>
      <Text bold color={color} wrap="truncate-end">
        {title}
      </Text>
      {lines.map((l, i) => (
        <Text key={i} wrap="truncate-end">
          {l}
        </Text>
      ))}
    </Box>
  );
}
