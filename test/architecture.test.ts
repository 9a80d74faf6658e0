import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
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

/** The source file a relative specifier names (`./x.js` is `./x.ts` or `./x.tsx`), or undefined. */
function resolveRelative(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec).replace(/\.js$/, '');
  return [`${base}.ts`, `${base}.tsx`].find((path) => existsSync(path));
}

/** Strongly connected groups of more than one file in the import graph (Tarjan), type-only imports included. */
function importCycles(files: string[]): string[][] {
  const graph = new Map(files.map((file) => [file, importsOf(file).flatMap((spec) => resolveRelative(file, spec) ?? [])]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file)!, index.get(next)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(relative(root, member));
    } while (member !== file);
    if (group.length > 1) cycles.push(group.sort());
  };
  for (const file of files) if (!index.has(file)) visit(file);
  return cycles;
}

describe('no import cycles', () => {
  // `npm run lint` (import-x/no-cycle) refuses value cycles as they are written; this also counts
  // type-only imports, which the lint rule skips, so no two modules ever own each other's types.
  it('no module in src reaches itself through its imports, type-only imports included', () => {
    expect(importCycles(sourceFiles(root))).toEqual([]);
  });

  it('the lint rule refuses a value cycle written with a .js specifier in the flat config, as a screen importing the app back would be', async () => {
    const { ESLint } = await import('eslint');
    const eslint = new ESLint({ cwd: join(root, '..') });
    const file = join(root, 'web/app/screens/home.tsx');
    const text = `import { App } from '../app.js';\nexport const again = App;\n`;
    const [result] = await eslint.lintText(text, { filePath: file });
    expect(result!.messages.map((m) => m.ruleId)).toContain('import-x/no-cycle');
    const [clean] = await eslint.lintText(readFileSync(file, 'utf8'), { filePath: file });
    expect(clean!.messages.filter((m) => m.ruleId === 'import-x/no-cycle')).toEqual([]);
  }, 60_000);

  it('the check finds a cycle made only of type imports', () => {
    const dir = mkdtempSync(join(tmpdir(), 'burrow-cycle-'));
    try {
      writeFileSync(join(dir, 'a.ts'), "import type { B } from './b.js';\nexport interface A { b: B }\n");
      writeFileSync(join(dir, 'b.ts'), "import type { A } from './a.js';\nexport interface B { a?: A }\n");
      writeFileSync(join(dir, 'c.ts'), "import type { A } from './a.js';\nexport type C = A;\n");
      expect(importCycles(['a.ts', 'b.ts', 'c.ts'].map((name) => join(dir, name)))).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the public APIs', () => {
  // The lazily loaded entry of the client library, imported with `import()` (or for types only), so
  // a page that never asks for a new password never fetches its dictionaries.
  const onDemand = new Set(['client/password-policy.ts']);

  it('the web app, the toys and the CLI import the client library and the crypto core only through their index files', () => {
    for (const layer of ['web', 'cli', 'toy']) {
      for (const file of sourceFiles(join(root, layer))) {
        const text = readFileSync(file, 'utf8');
        for (const match of text.matchAll(/^(import|export)( type)?[^'"]*?from\s*['"]([^'"]+)['"]/gm)) {
          const target = resolveRelative(file, match[3]!);
          if (target === undefined) continue;
          const name = relative(root, target);
          if (!/^(client|crypto)\//.test(name) || /^(client|crypto)\/index\.ts$/.test(name)) continue;
          // The service worker is a bundle of its own, run without a page: it takes the one module it needs.
          if (relative(root, file) === 'web/sw.ts' && name === 'client/push-notice.ts') continue;
          expect(match[2] === ' type' && onDemand.has(name), `${relative(root, file)} imports ${name}; import it from ${name.split('/')[0]}/index.js`).toBe(true);
        }
      }
    }
  });

  it('the crypto index gives the protocol operations, not the CPace, AEAD, encoding or KEM internals beneath them', async () => {
    const core = await import('../src/crypto/index.js');
    const internals = {
      cpace: await import('../src/crypto/cpace.js'),
      aead: await import('../src/crypto/aead.js'),
      canonical: await import('../src/crypto/canonical.js'),
      signature: await import('../src/crypto/signature.js'),
      xwing: await import('../src/crypto/xwing.js'),
      webcrypto: await import('../src/crypto/webcrypto.js'),
    };
    for (const [internal, mod] of Object.entries(internals)) {
      for (const name of Object.keys(mod)) expect(Object.hasOwn(core, name), `crypto/index re-exports ${internal}.${name}`).toBe(false);
    }
    for (const operation of ['sealMessage', 'openAndVerifyMessage', 'verifyRoster', 'startToyPairing', 'sealVault', 'toBase64Url']) {
      expect(typeof (core as Record<string, unknown>)[operation], operation).toBe('function');
    }
  });

  it('every module of the client library is in its index, except the on-demand entries and its internals', () => {
    const index = readFileSync(join(root, 'client/index.ts'), 'utf8');
    const internals = new Set(['client/index.ts', 'client/refusal-report.ts']);
    for (const file of sourceFiles(join(root, 'client'))) {
      const name = relative(root, file);
      // The toy runtime's modules (client/toy/) are public through client/toy-runtime.ts, which the index exports.
      if (onDemand.has(name) || internals.has(name) || name.startsWith('client/toy/')) continue;
      expect(index, `${name} is missing from client/index.ts`).toContain(`export * from './${name.slice('client/'.length).replace(/\.ts$/, '.js')}';`);
    }
  });
});

describe('test files that share a process', () => {
  /** Every test file and test helper (test/), read as text. */
  function testSources(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return testSources(path);
      return /\.tsx?$/.test(name) ? [path] : [];
    });
  }

  it('change no environment variable of the worker they share (vitest.config.ts: isolate: false)', () => {
    // A child process gets an environment of its own (`env:` of spawn); the worker's stays as the
    // run set it, or the next file in the same worker would see another file's settings.
    const tests = new URL('./', import.meta.url).pathname;
    for (const file of testSources(tests)) {
      const text = readFileSync(file, 'utf8');
      expect(text, `${relative(tests, file)} changes process.env`).not.toMatch(/process\.env(\.\w+|\[[^\]]+\])\s*(=(?!=)|\?\?=|\|\|=)|delete\s+process\.env|Object\.assign\(\s*process\.env|vi\.stubEnv/);
    }
  });
});
