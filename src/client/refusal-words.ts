/**
 * What a toy's or a member's device refused, in plain words: `refusalInWords` turns a refusal code
 * (`envelope/no-key`, `scope-key/commitment-mismatch`…, as reported to the family security log by
 * `reportRefusal` and as the toy logs them) into a sentence for people, so a code never reaches a
 * family as a code. The words live in the client-side catalogue, src/protocol/client-errors.ts.
 */
export { refusalInWords, refusalIsWait } from '../protocol/client-errors.js';
