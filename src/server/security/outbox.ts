/**
 * The mail fallback: when no SMTP server is configured, mail for the operator (alerts) and for
 * members (notices) is written as RFC 5322 `.eml` files into `<data>/outbox/` (0700, files 0600),
 * where the operator's own mail tooling, or a person, picks them up.
 */
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes, toHex } from '../../crypto/bytes.js';

export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  /** Plain text; lines end with LF here and CRLF on the wire. */
  text: string;
}

/** A header value with line breaks removed, so no header can be injected. */
function headerValue(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').trim();
}

/** The message as RFC 5322 text (UTF-8, 8bit). */
export function formatMail(message: MailMessage, date: Date): string {
  const headers = [
    `From: ${headerValue(message.from)}`,
    `To: ${headerValue(message.to)}`,
    `Subject: ${headerValue(message.subject)}`,
    `Date: ${date.toUTCString()}`,
    `Message-ID: <${toHex(randomBytes(12))}@burrow.invalid>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  return `${headers.join('\r\n')}\r\n\r\n${message.text.replace(/\r?\n/g, '\r\n')}\r\n`;
}

/** Writes one message into `dir`; returns the file's path. */
export async function writeOutboxMail(dir: string, message: MailMessage, now: number): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const date = new Date(now);
  const path = join(dir, `${date.toISOString().replace(/[:.]/g, '-')}-${toHex(randomBytes(6))}.eml`);
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(formatMail(message, date));
    await handle.sync();
  } finally {
    await handle.close();
  }
  return path;
}
