/**
 * `burrow completion bash|zsh|fish`: scripts generated from the command tree. The bash script is
 * sourced in a real bash and asked to complete, as bash itself does, through COMP_WORDS and
 * COMP_CWORD; zsh and fish scripts are checked by their own shells where those are installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burrow } from '../support/cli.js';

let work: string;
let bashScript: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'burrow-completion-'));
  const run = await burrow(['completion', 'bash']);
  expect(run.code, run.stderr).toBe(0);
  bashScript = join(work, 'burrow.bash');
  writeFileSync(bashScript, run.stdout);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** What bash offers for the command line `words` (the last word is the one being completed). */
function bashComplete(words: string[]): string[] {
  const program = [
    'source "$1"; shift',
    'COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))',
    '_burrow',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', program, 'bash', bashScript, ...words], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line !== '');
}

function hasShell(name: string): boolean {
  return spawnSync(name, ['-c', 'exit 0'], { stdio: 'ignore' }).status === 0;
}

describe('burrow completion', () => {
  it('bash: registers _burrow for burrow and completes top-level commands from the command tree', () => {
    const registered = execFileSync('bash', ['--norc', '--noprofile', '-c', 'source "$1"; complete -p burrow', 'bash', bashScript], { encoding: 'utf8' });
    expect(registered.trim()).toBe('complete -o default -F _burrow burrow');
    expect(bashComplete(['burrow', 'acc'])).toEqual(['account']);
    expect(bashComplete(['burrow', 'mi'])).toEqual(['migrate-store']);
    expect(bashComplete(['burrow', ''])).toEqual(expect.arrayContaining(['account', 'family', 'toy', 'serve', 'backup', 'restore', 'notify', 'completion']));
  });

  it('bash: completes subcommands and the options of the command typed so far', () => {
    expect(bashComplete(['burrow', 'account', 're'])).toEqual(['register', 'recover']);
    expect(bashComplete(['burrow', 'toy', 'p'])).toEqual(['pair', 'press']);
    expect(bashComplete(['burrow', 'account', 'login', '--password-'])).toEqual(['--password-file', '--password-stdin']);
    expect(bashComplete(['burrow', 'notify', '--d'])).toEqual(['--data', '--dry-run']);
    // Options already given do not lose the place in the tree.
    expect(bashComplete(['burrow', 'account', '--help', 'lo'])).toEqual(['login', 'logout']);
  });

  it('bash: after an option that takes a value it offers nothing, leaving file names to bash', () => {
    expect(bashComplete(['burrow', 'backup', '--out', ''])).toEqual([]);
    expect(bashComplete(['burrow', 'backup', '--force', '--'])).toEqual(expect.arrayContaining(['--out', '--force', '--json', '--with-secrets']));
  });

  it('refuses an unknown shell as a usage error', async () => {
    const run = await burrow(['completion', 'tcsh']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Allowed choices are bash, zsh, fish/);
  });

  it.skipIf(!hasShell('zsh'))('zsh: the script loads in zsh and offers the subcommands and options of the command typed so far', async () => {
    const run = await burrow(['completion', 'zsh']);
    const file = join(work, '_burrow');
    writeFileSync(file, run.stdout);
    // zsh's completion widgets need a terminal; _describe and _files are replaced by printers, so
    // what _burrow hands them is what zsh would offer (it filters by the typed prefix itself).
    const offer = (words: string[]): string[] =>
      execFileSync('zsh', ['-f', '-c', 'compdef() { :; }; source "$1"; shift; _describe() { print -l -- ${(P)${@[-1]}}; }; _files() { print FILES; }; words=("$@"); CURRENT=$#; _burrow', 'zsh', file, ...words], { encoding: 'utf8' })
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => line.split(':')[0]!);
    expect(offer(['burrow', 'account', 're'])).toEqual(expect.arrayContaining(['register', 'recover', 'login']));
    expect(offer(['burrow', 'account', 'login', '--pa'])).toEqual(expect.arrayContaining(['--password-file', '--password-stdin', '--server']));
    expect(offer(['burrow', 'backup', '--out', ''])).toEqual(['FILES']);
  });

  it.skipIf(!hasShell('fish'))('fish: the script loads in fish and completes a subcommand', async () => {
    const run = await burrow(['completion', 'fish']);
    const file = join(work, 'burrow.fish');
    writeFileSync(file, run.stdout);
    const out = execFileSync('fish', ['--no-config', '-c', `source ${file}; complete -C 'burrow account re'`], { encoding: 'utf8' });
    expect(out.split('\n').map((line) => line.split('\t')[0]).filter((w) => w !== '').sort()).toEqual(['recover', 'register']);
  });
});
