/**
 * `/.well-known/security.txt` (RFC 9116): where researchers report problems. Everything in it comes
 * from the operator's configuration, never from the request: a Host header chooses no Contact.
 *
 * - Contact (required, §2.5.3): the operator's `mailto:` or `https:` contact, and this server's
 *   report intake only at an `https:` public origin (a web URI Contact must be https, §2.5.3).
 * - Expires (required, §2.5.5): the date the operator set; only they can promise that someone
 *   reads the contact until then, so no date is invented.
 * - Canonical (§2.5.2) only at an `https:` public origin.
 *
 * Without a Contact or an Expires there is no valid file, and none is published (the route answers
 * 404); `burrow audit` says which setting is missing.
 */

export interface SecurityTxtOptions {
  /** The operator's `mailto:` or `https:` contact, when configured. */
  contact?: string;
  policyUrl?: string;
  /** The origin the server is published at (`https://burrow.example`); only an https one is used. */
  publicOrigin?: string;
  /** The operator's Expires, ms since the epoch. */
  expires?: number;
}

/** The path of the report intake. */
export const REPORT_PATH = '/v1/security/reports';

/** The Contact values security.txt may carry: https and mailto URIs only (RFC 9116 §2.5.3). */
function isAcceptableContact(uri: string): boolean {
  return /^(mailto:[^\s@]+@[^\s@]+|https:\/\/\S+)$/.test(uri);
}

/**
 * The text of security.txt (lines end with LF, which §3 allows), or undefined when the
 * configuration gives it no Contact or no Expires.
 */
export function buildSecurityTxt(options: SecurityTxtOptions): string | undefined {
  const httpsOrigin = options.publicOrigin?.startsWith('https://') === true ? options.publicOrigin : undefined;
  const contacts: string[] = [];
  if (options.contact !== undefined && isAcceptableContact(options.contact)) contacts.push(options.contact);
  if (httpsOrigin !== undefined) contacts.push(`${httpsOrigin}${REPORT_PATH}`);
  if (contacts.length === 0 || options.expires === undefined || !Number.isFinite(options.expires)) return undefined;
  const expires = new Date(options.expires);
  expires.setUTCMilliseconds(0);
  const lines = [
    '# Security contact for this Burrow server (RFC 9116).',
    `# Reports may also be sent as JSON {"summary", "details", "contact"} by POST to ${httpsOrigin ?? ''}${REPORT_PATH}${httpsOrigin === undefined ? ' on this server' : ''};`,
    '# the answer carries an acknowledgement id.',
    ...contacts.map((uri) => `Contact: ${uri}`),
    `Expires: ${expires.toISOString().replace('.000Z', 'Z')}`,
  ];
  if (options.policyUrl !== undefined) lines.push(`Policy: ${options.policyUrl}`);
  lines.push('Preferred-Languages: en');
  if (httpsOrigin !== undefined) lines.push(`Canonical: ${httpsOrigin}/.well-known/security.txt`);
  return `${lines.join('\n')}\n`;
}
