// The most recent offload events and refresh errors, newest at the bottom.
import { Box, Text } from 'ink';
import { truncate } from '../format.js';
import type { LogLine } from '../store.js';
import { useTheme } from '../theme.js';

function clockTime(at: number): string {
  return new Date(at).toISOString().slice(11, 19);
}

export function LogPane({ lines, height, width }: { lines: LogLine[]; height: number; width: number }) {
  const theme = useTheme();
  const shown = lines.slice(-height);
  return (
    <Box flexDirection="column" width={width}>
      <Text color={theme.muted} wrap="truncate-end">
        {`─ log ${'─'.repeat(Math.max(0, width - 6))}`}
      </Text>
      {shown.length === 0 ? (
        <Text color={theme.muted}>no events yet: press o to offload the selected table, A for all</Text>
      ) : (
        shown.map((l, i) => (
          <Text
            key={`${l.at}-${i}`}
            wrap="truncate-end"
            color={l.level === 'error' ? theme.error : l.level === 'warn' ? theme.warn : undefined}
          >
            {truncate(`${clockTime(l.at)} ${l.table ? `${l.table}: ` : ''}${l.message}`, width)}
          </Text>
        ))
      )}
      {Array.from({ length: Math.max(0, height - Math.max(1, shown.length)) }, (_, i) => (
        <Text key={`pad-${i}`}> </Text>
      ))}
    </Box>
  );
}
