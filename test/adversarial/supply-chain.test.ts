/**
 * Supply chain: every package in package-lock.json is pinned to one version with an integrity
 * hash and comes from the registry npm is configured with (npm leaves `resolved` out of the lock
 * for that registry: omit-lockfile-registry-resolved; any other source — another host, git, a
 * tarball URL, a local path — is refused); install scripts run only for the packages package.json
 * allows (`allowScripts`), and every allowed one needs it; every dependency is imported by the
 * product (src/), and every dev dependency by the tests, benchmarks or build configuration, or is
 * a tool named below with what runs it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordFigures } from './figures.js';

const root = new URL('../..', import.meta.url).pathname;

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  optional?: boolean;
  hasInstallScript?: boolean;
}
interface PackageJson {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  allowScripts?: Record<string, boolean>;
  scripts: Record<string, string>;
}

const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { lockfileVersion: number; packages: Record<string, LockEntry> };
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
const installed = Object.entries(lock.packages).filter(([path]) => path !== '');

/** The package name of a lock path (`node_modules/a/node_modules/@b/c` → `@b/c`). */
function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

/** Dev dependencies no source file imports, with what uses them (reviewed with this list). */
const TOOLS: Record<string, string> = {
  typescript: 'tsc: npm run build / typecheck',
  playwright: 'the browser test projects (vitest.config.ts, @vitest/browser-playwright) drive Chromium through it',
  '@babel/core': 'peer dependency of @preact/preset-vite (the web build)',
  '@redocly/cli': 'redocly lint of the OpenAPI and AsyncAPI documents, run by test/server/api-description.test.ts',
  'axe-core': 'the accessibility engine the browser tests evaluate in each page (test/web/support/axe.ts reads axe.min.js from the package)',
};

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|tsx|mts|js|mjs|cjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function importedPackages(files: string[]): Set<string> {
  const out = new Set<string>();
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'".][^'"]*)['"]/g;
  for (const file of files) {
    for (const match of readFileSync(file, 'utf8').matchAll(pattern)) {
      const specifier = match[1]!;
      if (specifier.startsWith('node:')) continue;
      const parts = specifier.split('/');
      out.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
    }
  }
  return out;
}

describe('supply chain', () => {
  it('every package is pinned with an integrity hash and comes from the configured registry', () => {
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(3);
    const npm = spawnSync('npm', ['config', 'get', 'registry'], { cwd: root, encoding: 'utf8' });
    expect(npm.status, npm.stderr).toBe(0);
    const registry = new URL(npm.stdout.trim());
    const problems: string[] = [];
    let fromRegistry = 0;
    for (const [path, entry] of installed) {
      if (entry.link === true) {
        problems.push(`${path}: a link to ${entry.resolved ?? '?'} (local code outside the lock's control)`);
        continue;
      }
      if (typeof entry.version !== 'string' || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(entry.version)) problems.push(`${path}: no exact version (${entry.version})`);
      if (typeof entry.integrity !== 'string' || !/^sha512-[A-Za-z0-9+/]{86}==$/.test(entry.integrity)) problems.push(`${path}: no sha512 integrity`);
      if (entry.resolved !== undefined) {
        let url: URL | undefined;
        try {
          url = new URL(entry.resolved);
        } catch {
          url = undefined;
        }
        if (url === undefined || url.protocol !== 'https:' || url.host !== registry.host) problems.push(`${path}: resolved from ${url?.protocol ?? ''}//${url?.host ?? entry.resolved}, not the configured registry`);
      }
      fromRegistry++;
    }
    expect(problems).toEqual([]);
    // package.json names no source other than the registry (git, URLs, paths, workspaces).
    for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      expect(range, name).toMatch(/^[~^]?\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?$/);
    }
    recordFigures('supplyChainLock', { packagesInLock: installed.length, pinnedWithSha512FromRegistry: fromRegistry, problems: problems.length });
  });

  it('install scripts run only for the allowed packages, and every allowed one has them', () => {
    const allowed = Object.entries(pkg.allowScripts ?? {}).filter(([, yes]) => yes).map(([name]) => name).sort();
    const withScripts = new Set<string>();
    for (const [path, entry] of installed) {
      if (entry.hasInstallScript === true) withScripts.add(nameOf(path));
      // Cross-check the lock against what is installed: a package whose manifest has an install hook.
      const manifest = join(root, path, 'package.json');
      if (!existsSync(manifest)) continue;
      const { scripts = {}, gypfile } = JSON.parse(readFileSync(manifest, 'utf8')) as { scripts?: Record<string, string>; gypfile?: boolean };
      // npm runs `node-gyp rebuild` for a binding.gyp unless the manifest says `gypfile: false`
      // (better-sqlite3 13 ships prebuilt N-API binaries and says so).
      const builds = existsSync(join(root, path, 'binding.gyp')) && gypfile !== false;
      if (['preinstall', 'install', 'postinstall'].some((hook) => hook in scripts) || builds) withScripts.add(nameOf(path));
    }
    expect([...withScripts].sort(), 'packages with install scripts must be listed in package.json allowScripts').toEqual(allowed);
    recordFigures('supplyChainScripts', { packagesWithInstallScripts: [...withScripts].sort(), allowed });
  });

  it('every dependency is used: by the product (dependencies) or by tests, benchmarks and builds (dev)', () => {
    const product = importedPackages(sourceFiles(join(root, 'src')).filter((f) => !/\.test\.tsx?$/.test(f)));
    const unusedDependencies = Object.keys(pkg.dependencies).filter((name) => !product.has(name));
    expect(unusedDependencies, 'dependencies no file in src/ imports').toEqual([]);

    const tooling = importedPackages([
      ...sourceFiles(join(root, 'test')), ...sourceFiles(join(root, 'bench')), ...sourceFiles(join(root, 'src')),
      ...readdirSync(root).filter((f) => /\.config\.(ts|js|mjs)$/.test(f)).map((f) => join(root, f)),
    ]);
    const scripts = Object.values(pkg.scripts).join(' ');
    const unusedDev = Object.keys(pkg.devDependencies).filter((name) => {
      if (tooling.has(name) || name in TOOLS) return false;
      if (name.startsWith('@types/')) {
        const typed = name.slice('@types/'.length).replace(/^(.+)__(.+)$/, '@$1/$2');
        return !(typed === 'node' || tooling.has(typed));
      }
      return !new RegExp(`(^|[\\s&|;])(npx\\s+)?${name}(\\s|$)`).test(scripts);
    });
    expect(unusedDev, 'dev dependencies nothing imports or runs (or add them to TOOLS with what uses them)').toEqual([]);
    for (const name of Object.keys(TOOLS)) expect(name in pkg.devDependencies, `${name} is listed as a tool but is not a dev dependency`).toBe(true);
    expect(Object.keys(pkg.dependencies).filter((name) => name in pkg.devDependencies)).toEqual([]);
    recordFigures('supplyChainUse', { dependencies: Object.keys(pkg.dependencies).length, devDependencies: Object.keys(pkg.devDependencies).length, unusedDependencies, unusedDevDependencies: unusedDev, toolsNotImported: Object.keys(TOOLS) });
  });
});
