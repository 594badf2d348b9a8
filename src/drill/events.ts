// The typed progress events of a drill: the drill emits them; the CLI prints them and the TUI's drill screen
// reduces them. Neither consumer knows the other.
import type { CheckName, InvariantCheck } from '../verify/check.js';
import type { ChildRun, DrillReport, DrillStep } from './report.js';

export type DrillEvent =
  | { kind: 'drill-started'; drill: 'faults' | 'random'; steps: number; tables: string[]; sandbox: string }
  | { kind: 'step-started'; index: number; total: number; table: string; fault: string; step: DrillStep['kind']; simulates: string }
  | { kind: 'child-started'; index: number; role: ChildRun['role']; table: string; fault: string | null; pid: number | null }
  | { kind: 'child-line'; index: number; role: ChildRun['role']; stream: 'stdout' | 'stderr'; line: string }
  | { kind: 'child-exited'; index: number; run: ChildRun }
  | { kind: 'fault-injected'; index: number; detail: string }
  /** The checks begin (`checks` absent), or the named ones are under way. */
  | { kind: 'checking'; index: number; table: string; checks?: CheckName[] }
  | { kind: 'check'; index: number; table: string; check: InvariantCheck }
  | { kind: 'step-finished'; step: DrillStep }
  | { kind: 'trades'; inserted: number }
  | { kind: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { kind: 'drill-finished'; report: DrillReport };
