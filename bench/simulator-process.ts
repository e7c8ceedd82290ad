import { spawn } from 'node:child_process';
import { ROOT } from '../test/helpers/process.ts';

/**
 * The simulators as their own process offering background load (QoS 1). It shares this 2-core
 * machine with the platform; on a site it would not, so it runs at a lower priority (nice 10) and
 * the platform gets the CPU first.
 */
export function startSimulatorLoad(opts: { url: string; credentials: string; rate: number; durationS: number }): { stop(): Promise<void> } {
  const sim = spawn('nice', ['-n', '10', process.execPath, '--import', 'tsx', 'simulators/cli.ts', '--url', opts.url, '--credentials', opts.credentials, '--rate', String(opts.rate), '--duration', String(opts.durationS), '--qos', '1'], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  return {
    async stop() {
      if (sim.exitCode === null && sim.signalCode === null) sim.kill('SIGTERM');
      await new Promise((r) => (sim.exitCode !== null || sim.signalCode !== null ? r(null) : sim.once('exit', r)));
    },
  };
}
