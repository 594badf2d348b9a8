// Crash at every fault point with the JDBC catalog (test/support/offload-crash.ts has the drill; the REST
// catalog's run is offload.crash.rest.stack.test.ts).
import { describeCrashAtEveryFaultPoint } from '../support/offload-crash.js';

describeCrashAtEveryFaultPoint('jdbc');
