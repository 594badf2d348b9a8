// Carries out what the keys ask for: refreshes (periodic, single-flight, never blocking input),
// offloads (their events reduced into the store), details, and the three ways to leave.
import type { OffloadEvent } from '../pipeline/events.js';
import type { OffloadBackend, RunScope } from './backend.js';
import type { Command } from './keys.js';
import {
  activeRuns,
  appendLog,
  isActive,
  reduceDetailsFailed,
  reduceDetailsLoaded,
  reduceEvent,
  reduceRefreshStarted,
  reduceRunRequested,
  reduceRunSettled,
  reduceStatus,
  reduceStatusFailed,
  reduceStopRequested,
  type TuiStore,
} from './store.js';

export interface SessionOptions {
  /** Seconds between automatic refreshes; 0 turns them off. */
  refreshSec: number;
  /** A status load that takes longer than this is given up and shown as failed. */
  statusTimeoutMs?: number;
  now?: () => number;
}

interface ActiveOffload {
  scope: RunScope;
  tables: string[];
  controller: AbortController;
  /** One table's stop within an offload of several (`x`), made on first use. */
  tableStops: Map<string, AbortController>;
  done: Promise<void>;
}

export class TuiSession {
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | null = null;
  private isRefreshQueued = false;
  private readonly offloads = new Set<ActiveOffload>();
  private readonly closing = new AbortController();
  private resolveExit!: () => void;
  /** Settles when the operator has chosen to leave and every offload has ended. */
  readonly exited: Promise<void>;

  constructor(
    readonly store: TuiStore,
    readonly backend: OffloadBackend,
    private readonly options: SessionOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  start(): void {
    void this.refresh();
    if (this.options.refreshSec > 0) {
      this.timer = setInterval(() => {
        // A periodic tick never queues behind a slow refresh: the one in flight is still current.
        if (!this.refreshing) void this.refresh();
      }, this.options.refreshSec * 1000);
    }
  }

  execute(command: Command): void {
    switch (command.kind) {
      case 'refresh':
        void this.refresh();
        return;
      case 'offload':
        this.offload({ kind: 'table', table: command.table });
        return;
      case 'offload-all':
        this.offload({ kind: 'all' });
        return;
      case 'stop-table':
        this.stopTable(command.table);
        return;
      case 'load-details':
        void this.loadDetails(command.table);
        return;
      case 'exit':
        this.resolveExit();
        return;
      case 'wait-then-exit':
        void this.waitForOffloads().then(() => this.resolveExit());
        return;
      case 'stop-then-exit':
        void this.stopOffloads().then(() => this.resolveExit());
        return;
    }
  }

  /** Loads a status snapshot; a call while one is loading makes one more load after it. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.isRefreshQueued = true;
      return this.refreshing;
    }
    this.refreshing = this.loadStatusOnce().finally(() => {
      this.refreshing = null;
      if (this.isRefreshQueued && !this.closing.signal.aborted) {
        this.isRefreshQueued = false;
        void this.refresh();
      }
    });
    return this.refreshing;
  }

  private async loadStatusOnce(): Promise<void> {
    const requestedAt = this.now();
    this.store.setState((s) => reduceRefreshStarted(s, requestedAt));
    const timeoutMs = this.options.statusTimeoutMs ?? Math.max(15_000, this.options.refreshSec * 3000);
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let onClose: () => void = () => {};
    // Settles first when the backend hangs: after the timeout, or at once when the TUI closes.
    const givenUp = new Promise<never>((_, reject) => {
      const giveUp = (why: string) => {
        controller.abort();
        reject(new Error(why));
      };
      timer = setTimeout(() => giveUp(`status did not answer within ${Math.round(timeoutMs / 1000)}s`), timeoutMs);
      onClose = () => giveUp('closing');
      this.closing.signal.addEventListener('abort', onClose);
    });
    try {
      const report = await Promise.race([this.backend.loadStatus(controller.signal), givenUp]);
      if (!this.closing.signal.aborted) this.store.setState((s) => reduceStatus(s, report, requestedAt, this.now()));
    } catch (err) {
      if (!this.closing.signal.aborted) this.store.setState((s) => reduceStatusFailed(s, messageOf(err), this.now()));
    } finally {
      clearTimeout(timer);
      this.closing.signal.removeEventListener('abort', onClose);
    }
  }

  offload(scope: RunScope): void {
    const state = this.store.getState();
    const say = (message: string) =>
      this.store.setState((s) => ({
        ...s,
        log: appendLog(s.log, { at: this.now(), level: 'warn', table: scope.kind === 'table' ? scope.table : undefined, message }),
      }));
    if (state.quitting) return;
    // One table is never offloaded twice at once from here: the second would only report "busy"
    // and its events would mix with the first's on the same row.
    if (scope.kind === 'all' && activeRuns(state).length > 0) {
      say('offload all: wait for the running offloads to finish first');
      return;
    }
    if (scope.kind === 'table' && isActive(state.live[scope.table])) {
      say('already running');
      return;
    }
    if (scope.kind === 'table' && [...this.offloads].some((o) => o.scope.kind === 'all')) {
      say('offload all is under way: this table is part of it');
      return;
    }
    const tables = scope.kind === 'all' ? (state.report?.tables ?? []).map((t) => t.name) : [scope.table];
    const controller = new AbortController();
    this.store.setState((s) => reduceRunRequested(s, tables, this.now()));
    const onEvent = (event: OffloadEvent) => {
      this.store.setState((s) => reduceEvent(s, event, this.now(), controller.signal.aborted));
      if (event.kind === 'committed' || event.kind === 'up-to-date' || event.kind === 'failed') void this.refresh();
    };
    const entry: ActiveOffload = { scope, tables, controller, tableStops: new Map(), done: Promise.resolve() };
    const tableSignal = (table: string) => tableStopOf(entry, table).signal;
    entry.done = (async () => {
      let error: string | undefined;
      try {
        await this.backend.run(scope, onEvent, controller.signal, scope.kind === 'all' ? { tableSignal } : {});
      } catch (err) {
        if (!controller.signal.aborted) error = messageOf(err);
      }
      this.store.setState((s) => reduceRunSettled(s, tables, { isAborted: controller.signal.aborted, error }, this.now()));
      this.offloads.delete(entry);
      void this.refresh();
    })();
    this.offloads.add(entry);
  }

  /**
   * Stops one table's offload safely (`x`): the same stop as quitting's "stop safely" — work before its
   * commit is abandoned, a commit under way completes — for this table only.
   */
  stopTable(table: string): void {
    const entry = [...this.offloads].find((o) => o.tables.includes(table));
    this.store.setState((s) => reduceStopRequested(s, table, this.now()));
    if (!entry || !isActive(this.store.getState().live[table])) return;
    if (entry.scope.kind === 'table') entry.controller.abort();
    else tableStopOf(entry, table).abort();
  }

  hasOffloads(): boolean {
    return this.offloads.size > 0;
  }

  async waitForOffloads(): Promise<void> {
    while (this.offloads.size > 0) await Promise.all([...this.offloads].map((o) => o.done));
  }

  /** Asks every offload to stop before its commit (one already committing completes) and waits for them. */
  async stopOffloads(): Promise<void> {
    for (const o of this.offloads) o.controller.abort();
    await this.waitForOffloads();
  }

  async loadDetails(table: string): Promise<void> {
    try {
      const details = await this.backend.loadDetails(table, this.closing.signal);
      this.store.setState((s) => reduceDetailsLoaded(s, details));
    } catch (err) {
      this.store.setState((s) => reduceDetailsFailed(s, table, messageOf(err)));
    }
  }

  /** Stops the timer and any load in flight. Offloads must have ended (`stopOffloads`) before. */
  async dispose(): Promise<void> {
    clearInterval(this.timer);
    this.closing.abort();
    await this.backend.close();
  }
}

function tableStopOf(entry: ActiveOffload, table: string): AbortController {
  let stop = entry.tableStops.get(table);
  if (!stop) {
    stop = new AbortController();
    entry.tableStops.set(table, stop);
  }
  return stop;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
