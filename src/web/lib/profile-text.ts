/**
 * Checks on profile strings (family names, child names, emoji avatars) when they are opened, not
 * only when they are created: a hostile family member can seal any string with any client, and the
 * app shows these strings on every screen. A string that fails is shown as not opening.
 *
 * - Names: 1 to 64 UTF-16 units after trimming (the client library's limit at creation), with no
 *   control characters and no invisible format characters other than the joiners some scripts need
 *   (ZWNJ, ZWJ). That refuses every bidi override, embedding and isolate (U+202A–202E, U+2066–2069)
 *   and the marks (U+200E, U+200F, U+061C): a name cannot reverse the app's own labels around it.
 *   Right-to-left names are fine; where the app shows them in its own markup they sit in `<bdi>`.
 * - Emoji: exactly one grapheme cluster, and a pictographic one (or a flag or keycap).
 */

const NAME_LIMIT = 64;
const EMOJI_UNITS_LIMIT = 16;

/** Cc and Cf (format) characters, except ZWNJ and ZWJ, and the line and paragraph separators. */
const FORBIDDEN = /[\p{Cc}\u2028\u2029]|(?![\u200c\u200d])\p{Cf}/u;

/** The opened name, trimmed, when it passes the checks; undefined otherwise. */
export function checkedName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const name = value.trim();
  if (name.length === 0 || name.length > NAME_LIMIT || FORBIDDEN.test(name)) return undefined;
  return name;
}

const segmenter = typeof Intl !== 'undefined' && 'Segmenter' in Intl ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : undefined;

/** The opened emoji when it is exactly one pictographic grapheme; undefined otherwise. */
export function checkedEmoji(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const emoji = value.trim();
  if (emoji.length === 0 || emoji.length > EMOJI_UNITS_LIMIT || segmenter === undefined) return undefined;
  let count = 0;
  for (const segment of segmenter.segment(emoji)) {
    void segment;
    count += 1;
    if (count > 1) return undefined;
  }
  if (!/\p{Extended_Pictographic}|\p{Regional_Indicator}{2}|\u20e3/u.test(emoji)) return undefined;
  if (/[\p{Cc}\u2028\u2029]|(?!\u200d|\ufe0f|\u20e3|[\u{e0020}-\u{e007f}])\p{Cf}/u.test(emoji)) return undefined;
  return emoji;
}

/** A family as opened by the client library, its name, children's profiles and members' names checked. */
export function withCheckedProfiles<
  F extends { name: string | undefined; children: ReadonlyArray<{ name: string | undefined; emoji: string | undefined }>; members: ReadonlyArray<{ name: string | undefined }> },
>(family: F): F {
  return {
    ...family,
    name: checkedName(family.name),
    children: family.children.map((child) => ({ ...child, name: checkedName(child.name), emoji: checkedEmoji(child.emoji) })),
    members: family.members.map((member) => ({ ...member, name: checkedName(member.name) })),
  };
}
