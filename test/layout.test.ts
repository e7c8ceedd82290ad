import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

/**
 * The folders are the architecture (README "Layout", DESIGN §2): data flows one way, device →
 * broker → ingest → rules → work items → notifications and the API, and a module reaches only into
 * the folders before it, plus devices/ and core/.
 */
const MAY_IMPORT: Record<string, string[]> = {
  core: [],
  devices: ['core'],
  broker: ['core', 'devices'],
  ingest: ['core', 'devices', 'broker'],
  rules: ['core', 'devices', 'broker', 'ingest'],
  'work-items': ['core', 'devices', 'broker', 'ingest', 'rules'],
  notify: ['core', 'devices', 'broker', 'ingest', 'rules', 'work-items'],
  api: ['core', 'devices', 'broker', 'ingest', 'rules', 'work-items', 'notify'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const full = path.join(dir, f);
    return statSync(full).isDirectory() ? files(full) : f.endsWith('.ts') ? [full] : [];
  });
}

const importsOf = (file: string) => [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^;]*?from '(\.[^']+)'/gms)].map((m) => path.resolve(path.dirname(file), m[1]!));
const topFolder = (file: string) => path.relative(ROOT, file).split(path.sep)[0]!;

describe('the layout', () => {
  for (const [folder, allowed] of Object.entries(MAY_IMPORT)) {
    it(`${folder}/ imports only ${allowed.length ? allowed.join(', ') : 'itself'}`, () => {
      const wrong = files(path.join(ROOT, folder)).flatMap((f) =>
        importsOf(f)
          .filter((target) => topFolder(target) !== folder && !allowed.includes(topFolder(target)))
          .map((target) => `${path.relative(ROOT, f)} → ${path.relative(ROOT, target)}`),
      );
      expect(wrong).toEqual([]);
    });
  }

  it('the domain names no HTTP status: rules/ and work-items/ throw coded errors (core/errors.ts)', () => {
    const found = ['rules', 'work-items'].flatMap((folder) =>
      files(path.join(ROOT, folder)).flatMap((f) =>
        readFileSync(f, 'utf8').split('\n').flatMap((line, i) => (/\b(?:statusCode|status\s*[:=]\s*[45]\d\d|[45]0[0-9]\b|4[12]\d\b|50[0-4]\b)/.test(line) ? [`${path.relative(ROOT, f)}:${i + 1}: ${line.trim()}`] : [])),
      ),
    );
    expect(found).toEqual([]);
  });
});
