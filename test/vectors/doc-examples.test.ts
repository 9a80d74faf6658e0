/**
 * Every checked example of docs/protocol.md matches what the code produces (the tags are described
 * in the document's "Checked examples" paragraph): stated sizes and constants, hex examples against
 * docs/vectors, layout tables walked over vector bytes, and every `burrow/…/vN` label the document
 * names is one the code uses. A failure names the document line.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AEAD_OVERHEAD } from '../../src/crypto/aead.js';
import { CHUNK_PLAINTEXT_BYTES, MAX_ENVELOPE_PREFIX_BYTES, MESSAGE_ID_LENGTH } from '../../src/crypto/envelope.js';
import { PADDING_FLOOR_BYTES } from '../../src/crypto/envelope-chunks.js';
import { WRAP_SUITE_SIZES } from '../../src/crypto/wrap-suites.js';
import { GUARDIAN_PROOF_LENGTH, INVITE_SECRET_LENGTH } from '../../src/crypto/invite.js';
import { PAIRING_CODE_DIGITS } from '../../src/crypto/pairing.js';
import { MAX_SEALED_QUIET_HOURS_BYTES } from '../../src/crypto/sealed-settings.js';
import { MAX_SEALED_VAULT_BYTES } from '../../src/crypto/vault.js';
import { XWING_CIPHERTEXT_BYTES, XWING_HPKE_KEM_ID, XWING_PUBLIC_KEY_BYTES, XWING_SEED_BYTES, XWING_SHARED_SECRET_BYTES } from '../../src/crypto/xwing.js';
import { findChecks, findLabels, tableAfter, walkLayout } from './doc-checks.js';
import { fromHexString } from './independent.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs/protocol.md'), 'utf8');

function vectorFile(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(ROOT, 'docs/vectors', `${name}.json`), 'utf8')) as Record<string, unknown>;
}

/** `receipt vectors[0].body` → the value at that path of docs/vectors/receipt.json. */
function vectorValue(argument: string): unknown {
  const [file, path = ''] = argument.split(/\s+/);
  let value: unknown = vectorFile(file!);
  for (const part of path.split('.').flatMap((p) => p.split(/\[(\d+)\]/).filter(Boolean))) {
    value = (value as Record<string, unknown> | undefined)?.[part];
  }
  return value;
}

function hexLength(argument: string): number {
  return fromHexString(vectorValue(argument) as string).length;
}

/** A size as the document writes it: 8,789. */
const grouped = (n: number): string => n.toLocaleString('en-US');

/** The values `<!-- check: name -->` lines must state, from the code (or what it produced). */
const CHECKS: Record<string, () => number | string> = {
  'identity.secret': () => hexLength('identity vectors[0].secret'),
  'identity.sealed': () => hexLength('identity vectors[0].sealed'),
  'aead.overhead': () => AEAD_OVERHEAD,
  'message-id': () => MESSAGE_ID_LENGTH,
  'envelope.chunk-plaintext': () => grouped(CHUNK_PLAINTEXT_BYTES),
  'envelope.padding-floor': () => grouped(PADDING_FLOOR_BYTES),
  'envelope.max-prefix': () => grouped(MAX_ENVELOPE_PREFIX_BYTES),
  // The prefix is the header and the u32 paddedLength.
  'envelope.max-header': () => grouped(MAX_ENVELOPE_PREFIX_BYTES - 4),
  'xwing.public-key': () => XWING_PUBLIC_KEY_BYTES,
  'xwing.seed': () => XWING_SEED_BYTES,
  'xwing.ciphertext': () => XWING_CIPHERTEXT_BYTES,
  'xwing.shared-secret': () => XWING_SHARED_SECRET_BYTES,
  'xwing.kem-id': () => `0x${XWING_HPKE_KEM_ID.toString(16)}`,
  'wrap.x25519.enc': () => WRAP_SUITE_SIZES['hpke-x25519-sha256-aes256gcm'].enc,
  'wrap.xwing.enc': () => WRAP_SUITE_SIZES['hpke-xwing-sha256-aes256gcm'].enc,
  'wrap.ciphertext': () => WRAP_SUITE_SIZES['hpke-xwing-sha256-aes256gcm'].ciphertext,
  'roster.sealed-quiet-hours': () => MAX_SEALED_QUIET_HOURS_BYTES,
  'profile.header': () => hexLength('profile vectors[0].header'),
  'profile.one-block-record': () => hexLength('profile vectors[0].sealed'),
  'invite.secret': () => INVITE_SECRET_LENGTH,
  'invite.guardian-proof': () => GUARDIAN_PROOF_LENGTH,
  'pairing.code-digits': () => PAIRING_CODE_DIGITS,
  'pairing.confirm-kem-body': () => 32 + 32 + XWING_PUBLIC_KEY_BYTES + 32 + 32,
  'vault.max-sealed-kib': () => MAX_SEALED_VAULT_BYTES / 1024,
};

/** Every `burrow/…/vN` string literal in src/: the labels the code uses. */
function labelsInCode(): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.tsx?$/.test(name)) for (const m of readFileSync(path, 'utf8').matchAll(/['"`](burrow\/[a-z0-9/ -]+?)(?:\\0)?['"`]/g)) found.add(m[1]!);
    }
  };
  walk(join(ROOT, 'src'));
  return found;
}

/** A hex example in a line: a full hex run, or `prefix…suffix` of one. */
function hexInLine(text: string): { prefix: string; suffix: string } | undefined {
  const abbreviated = /`([0-9a-f]{4,})…([0-9a-f]{4,})`/.exec(text);
  if (abbreviated) return { prefix: abbreviated[1]!, suffix: abbreviated[2]! };
  const full = /`([0-9a-f]{8,})`/.exec(text);
  return full ? { prefix: full[1]!, suffix: '' } : undefined;
}

describe('docs/protocol.md examples match the code', () => {
  const checks = findChecks(DOC);

  it('has checked examples of every kind', () => {
    for (const kind of ['check', 'vector', 'layout'] as const) expect(checks.some((c) => c.kind === kind), kind).toBe(true);
  });

  it('states every size and constant the code has', () => {
    const problems: string[] = [];
    for (const c of checks.filter((c) => c.kind === 'check')) {
      const compute = CHECKS[c.argument];
      if (!compute) {
        problems.push(`docs/protocol.md:${c.line}: unknown check "${c.argument}" (add it to CHECKS in test/vectors/doc-examples.test.ts)`);
        continue;
      }
      const value = String(compute());
      const pattern = new RegExp(`(^|[^0-9A-Za-z])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([^0-9A-Za-z]|$)`);
      if (!pattern.test(c.text)) problems.push(`docs/protocol.md:${c.line}: the code gives ${c.argument} = ${value}, which this line does not state: ${c.text.trim()}`);
    }
    const used = new Set(checks.map((c) => c.argument));
    for (const name of Object.keys(CHECKS)) if (!used.has(name)) problems.push(`CHECKS.${name} is stated nowhere in docs/protocol.md (tag the line that states it, or drop it)`);
    expect(problems).toEqual([]);
  });

  it('shows hex examples that are the published vectors', () => {
    const problems: string[] = [];
    for (const c of checks.filter((c) => c.kind === 'vector')) {
      const expected = vectorValue(c.argument);
      const shown = hexInLine(c.text);
      if (typeof expected !== 'string') problems.push(`docs/protocol.md:${c.line}: no vector value at "${c.argument}"`);
      else if (!shown) problems.push(`docs/protocol.md:${c.line}: no hex example on the line`);
      else if (!expected.startsWith(shown.prefix) || !expected.endsWith(shown.suffix) || (shown.suffix === '' && expected !== shown.prefix)) {
        problems.push(`docs/protocol.md:${c.line}: the example ${shown.prefix}${shown.suffix ? `…${shown.suffix}` : ''} is not ${c.argument} (${expected.slice(0, 16)}…)`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('has layout tables that walk the published vectors byte for byte', () => {
    const problems: string[] = [];
    for (const c of checks.filter((c) => c.kind === 'layout')) {
      const value = vectorValue(c.argument);
      if (typeof value !== 'string') {
        problems.push(`docs/protocol.md:${c.line}: no vector value at "${c.argument}"`);
        continue;
      }
      const rows = tableAfter(DOC, c.line);
      if (rows.length === 0) problems.push(`docs/protocol.md:${c.line}: no table after the layout tag`);
      problems.push(...walkLayout(rows, fromHexString(value)).map((p) => `docs/protocol.md:${p.replace(/^line /, '')}`));
    }
    expect(problems).toEqual([]);
  });

  it('names only labels the code uses', () => {
    // Labels the document names only to say they are no longer read.
    const retired = new Set(['burrow/approval/v1']);
    const known = new Set([...labelsInCode(), ...retired]);
    const unknown = findLabels(DOC).filter((l) => !known.has(l.label)).map((l) => `docs/protocol.md:${l.line}: "${l.label}" is not a label in src/`);
    expect(unknown).toEqual([]);
  });
});
