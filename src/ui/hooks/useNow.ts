// A clock that re-renders its component every `intervalMs`, for "3m ago" and the refresh timer.
import { useEffect, useState } from 'react';

export function useNow(clock: () => number, intervalMs = 1000): number {
  const [now, setNow] = useState(clock);
  useEffect(() => {
    const t = setInterval(() => setNow(clock()), intervalMs);
    return () => clearInterval(t);
  }, [clock, intervalMs]);
  return now;
}
