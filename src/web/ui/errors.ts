/**
 * Every failure in plain words: the web app's face of `describeFailure` (src/client/describe-failure.ts),
 * whose words come from the client-side catalogue (src/protocol/client-errors.ts). None carries a secret.
 */
import { describeFailure } from '../../client/index.js';

/** One sentence a person can act on, for any thrown value. */
export function plainWords(error: unknown): string {
  return describeFailure(error).words;
}
