/**
 * The web app's build: Vite + Preact, two pages (`/` the family app, `/toy` the virtual toy) and a
 * service worker, into dist/web, which `burrow serve` serves. Run through `npm run build` (or
 * `npm run build:web`). No inline script or style is emitted: the pages' CSP forbids them.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(here, '../../dist/web');

/** Where the build lists its files and their SHA-256: the server serves only these (web-app.ts). */
const BUILD_MANIFEST = '.burrow-build.json';

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('base64url');

/**
 * Writes the app-shell list, with each file's SHA-256, into the service worker and names it by
 * content: the worker caches exactly the files of this build (pages, scripts, styles, icons,
 * manifest), never an API answer, and refuses any cached or fetched body whose hash differs (a
 * script of this origin can rewrite Cache Storage; it cannot rewrite the worker). Then writes the
 * build manifest (every file the server may serve, with its SHA-256), the worker included.
 */
function serviceWorkerShell(): Plugin {
  return {
    name: 'burrow-service-worker-shell',
    apply: 'build',
    // After everything is written (pages, chunks, the public folder): list the files on disk.
    closeBundle() {
      const swFile = join(outDir, 'sw.js');
      const files: string[] = [];
      const walk = (dir: string): void => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          const path = join(dir, entry.name);
          if (entry.isDirectory()) walk(path);
          else files.push(relative(outDir, path).split(sep).join('/'));
        }
      };
      walk(outDir);
      const served = files.filter((name) => !name.endsWith('.map') && !name.startsWith('.vite/') && name !== BUILD_MANIFEST).sort();
      const shell: Record<string, string> = {};
      for (const name of served) {
        if (name === 'sw.js') continue;
        // Not precached: the big pieces only signing up or in needs, which needs the network anyway
        // (the browser's HTTP cache keeps them, immutable, once fetched).
        if (/^assets\/(opaque-wasm|password-dictionary)-/.test(name)) continue;
        const path = name === 'index.html' ? '/' : name === 'toy/index.html' ? '/toy' : `/${name}`;
        shell[path] = sha256(readFileSync(join(outDir, name)));
      }
      const version = createHash('sha256').update(JSON.stringify(shell)).digest('hex').slice(0, 16);
      let code = readFileSync(swFile, 'utf8');
      // The shell replaces a whole string literal; the version (hex) is spliced into the cache name.
      const shellToken = /(["'`])__BURROW_SHELL__\1/;
      if (!shellToken.test(code) || !code.includes('__BURROW_VERSION__')) throw new Error('sw.js lost its placeholders');
      code = code.replace(shellToken, JSON.stringify(shell)).replaceAll('__BURROW_VERSION__', version);
      writeFileSync(swFile, code);
      const manifest: Record<string, string> = {};
      for (const name of served) manifest[`/${name}`] = sha256(readFileSync(join(outDir, name)));
      writeFileSync(join(outDir, BUILD_MANIFEST), `${JSON.stringify({ version: 1, files: manifest }, null, 1)}\n`);
    },
  };
}

/**
 * The password policy's dictionary (49,233 common passwords and the diceware list, ~220 KB
 * gzipped) is data, not code: in the web build `@zxcvbn-ts/language-common` becomes a module that
 * fetches it as one hashed JSON file with a top-level await. Only the screens that set a password
 * import the policy, so only they fetch it; the policy itself (src/client/password-policy.ts) is
 * unchanged and sees exactly the same dictionary.
 */
function passwordDictionaryAsJson(): Plugin {
  const virtualId = '\0burrow-password-dictionary';
  return {
    name: 'burrow-password-dictionary-json',
    apply: 'build',
    enforce: 'pre',
    resolveId(id) {
      return id === '@zxcvbn-ts/language-common' ? virtualId : undefined;
    },
    async load(id) {
      if (id !== virtualId) return undefined;
      const dist = resolve(here, '../../node_modules/@zxcvbn-ts/language-common/dist');
      const { dictionary, adjacencyGraphs } = (await import(pathToFileURL(join(dist, 'index.mjs')).href)) as { dictionary: Record<string, unknown>; adjacencyGraphs: unknown };
      const source = JSON.stringify(dictionary);
      const fileName = `assets/password-dictionary-${createHash('sha256').update(source).digest('hex').slice(0, 10)}.json`;
      this.emitFile({ type: 'asset', fileName, source });
      return [
        `const response = await fetch(${JSON.stringify(`/${fileName}`)}, { credentials: 'omit' });`,
        `if (!response.ok) throw new Error('the password dictionary did not load (HTTP ' + response.status + ')');`,
        'export const dictionary = await response.json();',
        `export const adjacencyGraphs = ${JSON.stringify(adjacencyGraphs)};`,
      ].join('\n');
    },
  };
}

/**
 * @serenity-kit/opaque inlines its WebAssembly as a base64 string in JavaScript (≈ 157 KB gzipped
 * of "JavaScript" that is really a binary). In the web build the string becomes a hashed
 * `.wasm` file that the package's own loader fetches (served as application/wasm, so the browser
 * compiles it while it streams); the package's code is otherwise unchanged.
 */
function opaqueWasmAsFile(): Plugin {
  const inlined = /function wasmData\(imports\)\{return _loadWasmModule\(0, null, '([A-Za-z0-9+/=]+)'\)\}/;
  return {
    name: 'burrow-opaque-wasm-file',
    apply: 'build',
    transform(code, id) {
      if (!id.includes('@serenity-kit/opaque')) return undefined;
      const match = inlined.exec(code);
      if (match === null) throw new Error('@serenity-kit/opaque no longer inlines its WebAssembly as expected: update opaqueWasmAsFile in src/web/vite.config.ts');
      const bytes = Buffer.from(match[1]!, 'base64');
      const fileName = `assets/opaque-wasm-${createHash('sha256').update(bytes).digest('hex').slice(0, 10)}.wasm`;
      this.emitFile({ type: 'asset', fileName, source: bytes });
      return { code: code.replace(inlined, `function wasmData(imports){return fetch(${JSON.stringify(`/${fileName}`)}, { credentials: 'omit' })}`), map: null };
    },
  };
}

/**
 * @hpke/core falls back to `import("crypto")` (Node's) when the page has no WebCrypto. Browsers
 * running Burrow always have it (the crypto core needs it too), so that import becomes a module
 * that says so, instead of Vite's warning and stub.
 */
function noNodeCrypto(): Plugin {
  const virtualId = '\0burrow-no-node-crypto';
  return {
    name: 'burrow-no-node-crypto',
    enforce: 'pre',
    resolveId(id) {
      return id === 'crypto' || id === 'node:crypto' ? virtualId : undefined;
    },
    load(id) {
      return id === virtualId ? "throw new Error('WebCrypto (crypto.subtle) is not available in this browser');\nexport const webcrypto = undefined;\nexport default {};" : undefined;
    },
  };
}

export default defineConfig({
  root: here,
  base: '/',
  publicDir: resolve(here, 'public'),
  plugins: [noNodeCrypto(), passwordDictionaryAsJson(), opaqueWasmAsFile(), preact({ devToolsEnabled: false }), serviceWorkerShell()],
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // Nothing inlined as data: URLs (fonts, images): img-src allows data:, but keep it simple and cacheable.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      // The build is small; Rolldown's note about slow plugin callbacks is noise on a busy machine.
      checks: { bundlerTimings: false },
      input: {
        app: resolve(here, 'index.html'),
        toy: resolve(here, 'toy/index.html'),
        sw: resolve(here, 'sw.ts'),
      },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
        // OPAQUE's glue code in its own chunk, loaded with its .wasm file (opaqueWasmAsFile) only
        // by the screens that sign up or in, and cached on its own.
        manualChunks(id) {
          if (id.includes('@serenity-kit/opaque')) return 'opaque-wasm';
          return undefined;
        },
      },
    },
  },
});
