/**
 * The mail fallback: when no SMTP server is configured, mail for the operator (alerts) and for
 * members (notices) is written as RFC 5322 `.eml` files into `<data>/outbox/` (0700, files 0600),
 * where the operator's own mail tooling, or a person, picks them up. nodemailer's composer is
 * imported with the first mail, not at start-up.
 */
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type MailComposerClass from 'nodemailer/lib/mail-composer';
import { randomBytes, toHex } from '../../crypto/bytes.js';

export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  /** Plain text; lines end with LF here and CRLF on the wire. */
  text: string;
}

/** A header value with line breaks removed, so no header can be injected. */
export function headerValue(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').trim();
}

/** The message as RFC 5322 bytes: UTF-8 text, non-ASCII headers encoded as RFC 2047 words (nodemailer). */
export async function composeMail(message: MailMessage, date: Date): Promise<Buffer> {
  const MailComposer = (await import('nodemailer/lib/mail-composer')).default as typeof MailComposerClass;
  const composer = new MailComposer({
    from: headerValue(message.from),
    to: headerValue(message.to),
    subject: headerValue(message.subject),
    text: message.text,
    date,
    messageId: `<${toHex(randomBytes(12))}@burrow.invalid>`,
    newline: '\r\n',
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return new Promise((resolve, reject) => {
    composer.compile().build((error, bytes) => (error ? reject(error) : resolve(bytes)));
  });
}

/** Writes one message into `dir`; returns the file's path. */
export async function writeOutboxMail(dir: string, message: MailMessage, now: number): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const date = new Date(now);
  const bytes = await composeMail(message, date);
  const path = join(dir, `${date.toISOString().replace(/[:.]/g, '-')}-${toHex(randomBytes(6))}.eml`);
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return path;
}
