import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]/g), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)];
  return specifiers.map((m) => m[1]!);
}

const nodeModule = /^(node:|fs$|path$|os$|net$|http$|https$|crypto$|child_process$|stream$|buffer$|url$|util$|worker_threads$)/;

describe('dependencies point one way', () => {
  for (const layer of ['crypto', 'client']) {
    it(`src/${layer} imports no Node module, so it runs in browsers`, () => {
      for (const file of sourceFiles(join(root, layer))) {
        for (const spec of importsOf(file)) expect(spec, `${file} imports ${spec}`).not.toMatch(nodeModule);
      }
    });
  }

  it('src/crypto imports nothing from the client, server, storage or front ends', () => {
    for (const file of sourceFiles(join(root, 'crypto'))) {
      for (const spec of importsOf(file)) expect(spec, `${file} imports ${spec}`).not.toMatch(/\.\.\/(client|server|storage|cli|web|toy)\//);
    }
  });

  it('src/client imports nothing from the server, storage or front ends', () => {
    for (const file of sourceFiles(join(root, 'client'))) {
      for (const spec of importsOf(file)) expect(spec, `${file} imports ${spec}`).not.toMatch(/\.\.\/(server|storage|cli|web|toy)\//);
    }
  });

  it('no client, toy, CLI or web code unwraps a family key without checking its roster commitment', () => {
    // `unwrapAndCheckFamilyKey` is the only unwrap a client may use: a bare `unwrapFamilyKey` would
    // accept a key the server chose and wrapped itself (HPKE base mode authenticates no sender).
    for (const layer of ['client', 'cli', 'toy', 'web']) {
      for (const file of sourceFiles(join(root, layer))) expect(readFileSync(file, 'utf8'), file).not.toMatch(/\bunwrapFamilyKey\b/);
    }
  });

  it('src/toy (the reference toy\'s device state) imports nothing from the CLI, whose `burrow toy` shell uses it', () => {
    for (const file of sourceFiles(join(root, 'toy'))) {
      for (const spec of importsOf(file)) expect(spec, `${file} imports ${spec}`).not.toMatch(/\.\.\/cli\//);
    }
  });

  it('the toy shells leave every decision to the toy runtime (src/client/toy/)', () => {
    // What plays, waits or is refused, whom to trust, and when to chime are the runtime's: the
    // reference toy's and the virtual toy's shells only wire it to a device.
    const shells = [join(root, 'cli', 'toy-commands.ts'), ...sourceFiles(join(root, 'web', 'toy')), ...sourceFiles(join(root, 'toy'))];
    for (const file of shells) {
      expect(readFileSync(file, 'utf8'), file).not.toMatch(/\b(openAndVerifyMessage|decideMessage|verifyRoster|unwrapAndCheckFamilyKey|quietUntil|signedReceiptBody|sendReceipt)\s*\(/);
      for (const spec of importsOf(file)) expect(spec, `${file} imports ${spec}`).not.toMatch(/\/(quiet-hours|receipts|toy\/decide|toy\/trust)\.js$/);
    }
  });

  it('src/server and src/storage import nothing from the front ends', () => {
    for (const layer of ['server', 'storage']) {
      for (const file of sourceFiles(join(root, layer))) {
        for (const spec of importsOf(file)) expect(spec, `${file} imports ${spec}`).not.toMatch(/\.\.\/(cli|web|toy|client)\//);
      }
    }
  });
});
