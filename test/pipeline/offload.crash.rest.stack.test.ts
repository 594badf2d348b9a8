// Crash at every fault point with the stack's Iceberg REST catalog: its commit is a request to another
// system, then PostgreSQL records it, so inside-commit leaves the table one run ahead of PostgreSQL and
// recovery records that run from the snapshot summary (test/support/offload-crash.ts has the drill).
import { describeCrashAtEveryFaultPoint } from '../support/offload-crash.js';

describeCrashAtEveryFaultPoint('rest');
