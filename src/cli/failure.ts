/** How every command reports a failure: the words of `describeFailure`, on stderr, and its exit code. */
import { describeFailure, type FailureDescription } from '../client/index.js';
import type { CliIo } from './io.js';

/**
 * Writes a failure to stderr — one JSON problem with `--json`, else `error: <detail>` and any
 * further lines (with `withWords`, last the catalogue's words: what to do next) — and sets the exit
 * code of the catalogue. Nothing secret: only what the error says.
 */
export function reportFailure(io: CliIo, options: { json?: boolean }, failure: unknown, print: { withWords?: boolean } = {}): FailureDescription {
  const described = describeFailure(failure);
  if (options.json) io.stderr.write(`${JSON.stringify(described.problem)}\n`);
  else io.stderr.write(`${[`error: ${described.detail}`, ...described.more, ...(print.withWords === true ? [described.words] : [])].join('\n')}\n`);
  io.exitCode = described.exitCode;
  return described;
}
