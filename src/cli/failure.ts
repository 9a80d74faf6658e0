/** How every command reports a failure: the words of `describeFailure`, on stderr, and its exit code. */
import { describeFailure, type FailureDescription } from '../client/index.js';
import type { CliIo } from './io.js';

/**
 * Writes a failure to stderr — one JSON problem with `--json`, else `error: <detail>` and any
 * further lines — and sets the exit code of the catalogue. Nothing secret: only what the error says.
 */
export function reportFailure(io: CliIo, options: { json?: boolean }, failure: unknown): FailureDescription {
  const described = describeFailure(failure);
  if (options.json) io.stderr.write(`${JSON.stringify(described.problem)}\n`);
  else io.stderr.write(`${[`error: ${described.detail}`, ...described.more].join('\n')}\n`);
  io.exitCode = described.exitCode;
  return described;
}
