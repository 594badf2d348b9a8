// Preloaded by bench/cli-start.ts (`node --import`): prints how long after the process started the first
// network connection was attempted (wall and CPU time), and ends the process there — the CLI's start-up
// before any I/O.
import net from 'node:net';

net.Socket.prototype.connect = function firstConnect() {
  const cpu = process.cpuUsage();
  process.stdout.write(`first-connect-ms ${performance.now().toFixed(1)} cpu-ms ${((cpu.user + cpu.system) / 1000).toFixed(1)}\n`);
  process.exit(0);
};
