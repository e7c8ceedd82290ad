import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface PlatformProcess {
  proc: ChildProcess;
  ports: { mqtt: number; http: number };
  exited: Promise<number | null>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `npm start`'s entry point as its own process on free loopback ports and resolves once it
 * has logged the ports it chose. `env` adds to (and overrides) the defaults below; `nodeArgs` go to
 * node itself (e.g. `--cpu-prof` to profile the platform under a benchmark's load).
 */
export async function startPlatformProcess(env: Record<string, string>, nodeArgs: string[] = []): Promise<PlatformProcess> {
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'main.ts'], {
    cwd: ROOT,
    env: { ...process.env, HTTP_PORT: '0', MQTT_PORT: '0', MQTT_WS_PORT: '0', HTTP_HOST: '127.0.0.1', MQTT_HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ports = await new Promise<{ mqtt: number; http: number }>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) if (line.includes('"platform started"')) resolve(JSON.parse(line).ports);
    });
    void exited.then((code) => reject(new Error(`platform exited early (${code}): ${stderr}`)));
  });
  return {
    proc,
    ports,
    exited,
    stop: (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
