import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Least privilege on disk: what the platform writes under DATA_DIR (the store's WAL with token
 * digests and residents' ticket text, the journal, secrets files) is the service user's alone. The
 * umask covers every file made from now on, in every thread; files an older version left behind
 * are narrowed once at start. Returns how many modes it changed.
 */
export function makePrivate(dataDir: string): number {
  process.umask(0o077);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let changed = 0;
  const walk = (p: string): void => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o777) !== want) {
      chmodSync(p, want);
      changed++;
    }
    if (st.isDirectory()) for (const f of readdirSync(p)) walk(path.join(p, f));
  };
  walk(dataDir);
  return changed;
}

/**
 * Whether an admin token is strong enough to guard a street's homes: at least 24 characters and
 * 10 different ones (a generated token has 43 of 64 possible). Returns why not, or undefined.
 */
export function weakTokenProblem(token: string): string | undefined {
  if (token.length < 24) return `is ${token.length} characters long; use at least 24 (e.g. \`openssl rand -base64 32\`), or unset it to have one generated`;
  if (new Set(token).size < 10) return `has only ${new Set(token).size} different characters; use a random one (e.g. \`openssl rand -base64 32\`), or unset it to have one generated`;
  return undefined;
}
