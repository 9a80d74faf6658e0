/**
 * `/.well-known/security.txt` (RFC 9116): where researchers report problems. Contact is required
 * (§2.5.3): the operator's contact when configured, and always this server's own report intake;
 * Expires is required (§2.5.5) and is kept 180 days ahead, under the recommended year.
 */

const EXPIRY_DAYS = 180;

export interface SecurityTxtOptions {
  /** The operator's `mailto:` or `https:` contact, when configured. */
  contact?: string;
  policyUrl?: string;
  /** The origin the server is published at (`https://burrow.example`); gives the Canonical field. */
  publicOrigin?: string;
  /** The origin this request reached, used for the intake URL when no public origin is configured. */
  requestOrigin: string;
  now: number;
}

/** The path of the report intake. */
export const REPORT_PATH = '/v1/security/reports';

/** The text of security.txt, CRLF line endings are not required (§3: lines end with CRLF or LF). */
export function buildSecurityTxt(options: SecurityTxtOptions): string {
  const origin = options.publicOrigin ?? options.requestOrigin;
  const expires = new Date(options.now + EXPIRY_DAYS * 86_400_000);
  expires.setUTCMilliseconds(0);
  const lines = [
    '# Security contact for this Burrow server (RFC 9116).',
    `# Reports may also be sent as JSON {"summary", "details", "contact"} by POST to ${origin}${REPORT_PATH};`,
    '# the answer carries an acknowledgement id.',
  ];
  if (options.contact !== undefined) lines.push(`Contact: ${options.contact}`);
  lines.push(`Contact: ${origin}${REPORT_PATH}`);
  lines.push(`Expires: ${expires.toISOString().replace('.000Z', 'Z')}`);
  if (options.policyUrl !== undefined) lines.push(`Policy: ${options.policyUrl}`);
  lines.push('Preferred-Languages: en');
  if (options.publicOrigin !== undefined) lines.push(`Canonical: ${options.publicOrigin}/.well-known/security.txt`);
  return `${lines.join('\n')}\n`;
}
