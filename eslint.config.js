// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'net', 'http', 'https', 'crypto', 'child_process', 'stream', 'buffer', 'url', 'util', 'worker_threads'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'src/web/dist/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // The crypto core and the client library run unchanged in browsers: no Node modules, no server code.
    files: ['src/crypto/**/*.ts', 'src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          // A regex, not a gitignore-style group: the group 'crypto' would also match '../crypto/x.js'.
          { regex: `^(${nodeBuiltins.map((name) => name.replace('*', '.*')).join('|')})$`, message: 'src/crypto and src/client must run in browsers: no Node modules.' },
          { group: ['**/server/**', '**/storage/**', '**/cli/**'], message: 'Dependencies point one way: front ends → client → crypto/protocol.' },
        ],
      }],
    },
  },
  {
    // The web app talks to the server only through the client library, and keeps no secret in
    // Web Storage (keys and sessions live in IndexedDB, sealed: src/web/lib/browser-stores.ts).
    files: ['src/web/**/*.ts', 'src/web/**/*.tsx'],
    ignores: ['src/web/vite.config.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { regex: `^(${nodeBuiltins.map((name) => name.replace('*', '.*')).join('|')})$`, message: 'src/web runs in browsers: no Node modules.' },
          { group: ['**/server/**', '**/storage/**', '**/cli/**'], message: 'The web app uses only the client library (src/client) and the crypto core.' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'localStorage', message: 'Nothing secret in Web Storage: use the IndexedDB stores.' },
        { name: 'sessionStorage', message: 'Nothing secret in Web Storage: use the IndexedDB stores.' },
      ],
    },
  },
  {
    files: ['src/server/**/*.ts', 'src/storage/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    // No import cycles anywhere in the product: a cycle hides which module owns what, and makes
    // load order matter. The TypeScript resolver maps the `.js` specifiers onto the `.ts` sources.
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.tsx', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: ['tsconfig.json', 'src/web/tsconfig.json'], noWarnOnMultipleProjects: true })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
);
