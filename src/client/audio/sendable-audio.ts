/** The client's rule before sealing audio: one of the two formats every toy plays, and truly so. */
import { AUDIO_FORMATS_IN_WORDS, checkAudio } from '../../protocol/audio-formats.js';
import { ClientError } from '../client-error.js';

/**
 * Throws `client/audio-format` unless `audio` is Opus in Ogg or 16-bit PCM WAV and `audioType`
 * names exactly that format (src/protocol/audio-formats.ts): a toy would refuse anything else.
 */
export function assertSendableAudio(audioType: string, audio: Uint8Array): void {
  const checked = checkAudio(audioType, audio);
  if (!checked.ok) throw new ClientError('client/audio-format', `audio must be ${AUDIO_FORMATS_IN_WORDS} with its audio type (${checked.problem})`);
}
