/**
 * The web app's bundle size (`npm run web:size`, after `npm run build`): every JavaScript file of
 * dist/web with its size and gzip size (level 9), split into what every page load fetches (the
 * entry scripts and their static imports), what is loaded lazily, and OPAQUE's WebAssembly (a
 * `.wasm` file: the web build takes it out of the package's JavaScript, vite.config.ts), which is
 * counted apart, and the password dictionary, fetched as JSON data by the screens that set a
 * password (vite.config.ts), also reported apart. Budget: the app's JavaScript, WASM aside, under 250 KB gzipped.
 * `--json` prints the raw report. test/web/app-bundle.test.ts checks the same budget.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** The budget for the app's JavaScript, WASM aside, gzipped. */
export const WEB_JS_BUDGET_BYTES = 250 * 1000;

export interface WebFileSize {
  name: string;
  bytes: number;
  gzip: number;
  kind: 'js' | 'wasm' | 'css' | 'html' | 'data' | 'other';
  /** Fetched by every load of the family app's page (entry script, its static imports, styles). */
  initial: boolean;
}

export interface WebBundleReport {
  files: WebFileSize[];
  /** All JavaScript except the OPAQUE WASM chunk, gzipped: the budgeted figure. */
  jsGzip: number;
  /** The JavaScript every load of `/` fetches, gzipped. */
  initialJsGzip: number;
  /** OPAQUE's WebAssembly (base64 in its JS chunk), gzipped. */
  wasmGzip: number;
  cssGzip: number;
  /** The password policy's dictionary (JSON, fetched only by the screens that set a password), gzipped. */
  dataGzip: number;
}

function walk(dir: string, root: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, root, out);
    else out.push(relative(root, path).split(sep).join('/'));
  }
}

/** Static imports of a built chunk (`import … from "./x.js"` / `import "./x.js"`), as file names. */
function staticImports(code: string): string[] {
  const out: string[] = [];
  for (const match of code.matchAll(/(?:^|[;}\s])import\s*(?:[\w*{}\s,$]+from\s*)?["'`]\.\/([\w.-]+\.js)["'`]/g)) out.push(`assets/${match[1]}`);
  return out;
}

/** Measures the build in `dir` (dist/web). */
export function measureWebBundle(dir: string): WebBundleReport {
  const names: string[] = [];
  walk(dir, dir, names);
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const initial = new Set<string>();
  const queue: string[] = [];
  for (const match of html.matchAll(/(?:src|href)="\/([^"]+)"/g)) {
    const name = match[1]!;
    if (name.endsWith('.js') || name.endsWith('.css')) {
      initial.add(name);
      if (name.endsWith('.js')) queue.push(name);
    }
  }
  while (queue.length > 0) {
    const name = queue.pop()!;
    for (const dep of staticImports(readFileSync(join(dir, name), 'utf8'))) {
      if (!initial.has(dep)) {
        initial.add(dep);
        queue.push(dep);
      }
    }
  }
  const files: WebFileSize[] = names
    .filter((name) => !name.endsWith('.map'))
    .map((name) => {
      const body = readFileSync(join(dir, name));
      const kind: WebFileSize['kind'] = name.endsWith('.wasm') ? 'wasm' : name.endsWith('.js') ? 'js' : name.endsWith('.css') ? 'css' : name.endsWith('.html') ? 'html' : name.endsWith('.json') && name.startsWith('assets/') ? 'data' : 'other';
      return { name, bytes: body.length, gzip: gzipSync(body, { level: 9 }).length, kind, initial: initial.has(name) };
    })
    .sort((a, b) => b.gzip - a.gzip);
  const sum = (list: WebFileSize[]) => list.reduce((total, f) => total + f.gzip, 0);
  // The service worker is JavaScript too, fetched once by the browser: it counts.
  const js = files.filter((f) => f.kind === 'js');
  return {
    files,
    jsGzip: sum(js),
    initialJsGzip: sum(js.filter((f) => f.initial)),
    wasmGzip: sum(files.filter((f) => f.kind === 'wasm')),
    cssGzip: sum(files.filter((f) => f.kind === 'css')),
    dataGzip: sum(files.filter((f) => f.kind === 'data')),
  };
}

function kb(bytes: number): string {
  return `${(bytes / 1000).toFixed(1)} KB`;
}

function main(): void {
  const dir = resolve(fileURLToPath(new URL('../../dist/web', import.meta.url)));
  let report: WebBundleReport;
  try {
    report = measureWebBundle(dir);
  } catch {
    console.error('web:size: no web build in dist/web; run `npm run build` first');
    process.exit(1);
  }
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log('file                                         bytes        gzip   loaded');
    for (const f of report.files.filter((file) => file.kind !== 'other')) {
      console.log(`${f.name.padEnd(40)} ${kb(f.bytes).padStart(10)} ${kb(f.gzip).padStart(11)}   ${f.kind === 'wasm' ? 'WASM (lazy)' : f.kind === 'data' ? 'data (lazy)' : f.initial ? 'every load' : f.kind === 'html' ? 'page' : 'lazy'}`);
    }
    console.log('');
    console.log(`JavaScript, all of it, WASM aside: ${kb(report.jsGzip)} gzipped (budget ${kb(WEB_JS_BUDGET_BYTES)})`);
    console.log(`JavaScript every load of / fetches: ${kb(report.initialJsGzip)} gzipped`);
    console.log(`OPAQUE WebAssembly (.wasm file):    ${kb(report.wasmGzip)} gzipped, loaded when signing up or in`);
    console.log(`CSS:                                ${kb(report.cssGzip)} gzipped`);
    console.log(`Password dictionary (JSON data):    ${kb(report.dataGzip)} gzipped, fetched by the sign-up and recovery screens only`);
  }
  if (report.jsGzip > WEB_JS_BUDGET_BYTES) {
    console.error(`web:size: over budget by ${kb(report.jsGzip - WEB_JS_BUDGET_BYTES)}`);
    process.exit(1);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
