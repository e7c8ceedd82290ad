import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Flushes the filesystem holding `dir` to disk (syncfs(2) through coreutils' `sync -f`; Node has no
 * binding for it). One call covers every file of the store, however many PostgreSQL has written.
 */
export async function syncFilesystem(dir: string): Promise<void> {
  await run('sync', ['-f', dir]);
}
