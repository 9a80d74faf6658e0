/**
 * Where operator alerts and member notices go: SMTP through nodemailer when configured (implicit
 * TLS with `smtps://`; STARTTLS demanded with `?starttls=required`, never tried with
 * `?starttls=never`, else used whenever the server offers it; certificates always verified; AUTH
 * with the method the server offers when the URL carries a user), else the outbox directory.
 * Errors never carry an address: they name the SMTP stage and reply code only. nodemailer is
 * imported at the first mail sent over SMTP, so a server without SMTP never loads it (start-up).
 */
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { Config } from '../config.js';
import { headerValue, writeOutboxMail, type MailMessage } from './outbox.js';

export interface Mailer {
  /** Sends (or files) one message; answers the channel used. */
  send(message: MailMessage): Promise<'smtp' | 'outbox'>;
  /** The sender address mail from this server uses. */
  readonly from: string;
}

/** Mail could not be handed to the SMTP server; the message names no address. */
export class MailError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailError';
  }
}

/** The operator's address for alerts: BURROW_ALERT_EMAIL, else a mailto: security contact. */
export function operatorAddress(config: Config): string {
  if (config.security.alertEmail !== undefined) return config.security.alertEmail;
  const contact = config.security.contact;
  if (contact?.startsWith('mailto:') === true) return decodeURIComponent(contact.slice('mailto:'.length).split('?')[0] ?? '');
  return 'operator@localhost';
}

const TIMEOUT_MS = 15_000;

/** nodemailer's SMTP options for a BURROW_SMTP_URL; refuses credentials that would travel in clear. */
export function smtpTransportOptions(url: string, tls: ConnectionOptions = {}) {
  const parsed = new URL(url);
  const implicitTls = parsed.protocol === 'smtps:';
  const starttls = parsed.searchParams.get('starttls');
  if (starttls !== null && starttls !== 'required' && starttls !== 'never') throw new MailError('the SMTP URL\'s starttls= must be required or never');
  const requireTls = starttls === 'required';
  const user = decodeURIComponent(parsed.username);
  if (user !== '' && !implicitTls && !requireTls) throw new MailError('refusing to send SMTP credentials without TLS (use smtps:// or ?starttls=required)');
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: Number(parsed.port || (implicitTls ? 465 : 25)),
    secure: implicitTls,
    requireTLS: requireTls,
    // A relay on this host whose certificate cannot be verified (a distribution's self-signed one).
    ignoreTLS: starttls === 'never',
    name: 'burrow',
    ...(user === '' ? {} : { auth: { user, pass: decodeURIComponent(parsed.password) } }),
    tls: { minVersion: 'TLSv1.2' as const, ...tls },
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
    logger: false,
    debug: false,
    // The message is plain text we compose; nothing may make nodemailer read files or URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

/** A nodemailer failure without the addresses its text may quote (e.g. a rejected recipient). */
function mailFailure(error: unknown): MailError {
  const { code, responseCode, command } = (error ?? {}) as { code?: unknown; responseCode?: unknown; command?: unknown };
  const parts = [typeof code === 'string' ? code : 'error', typeof command === 'string' ? `at ${command.split(' ')[0]}` : '', typeof responseCode === 'number' ? `reply ${responseCode}` : ''].filter((p) => p !== '');
  const tls = code === 'ETLS' || (error instanceof Error && /certificate|TLS|SSL/i.test(error.message));
  return new MailError(`the SMTP server did not take the message (${parts.join(', ')})${tls ? '; TLS to it failed: give it a certificate this machine trusts, or, for a relay on this host only, add ?starttls=never to BURROW_SMTP_URL' : ''}`);
}

/**
 * The mailer the configuration asks for. `tls` adds TLS options for the SMTP connection (a private
 * CA's certificate, for instance); certificates are always verified.
 */
export function createMailer(config: Config, options: { now?: () => number; tls?: ConnectionOptions } = {}): Mailer {
  const now = options.now ?? (() => Date.now());
  const from = `Burrow <burrow@${config.live.publicOrigin === undefined ? 'localhost' : new URL(config.live.publicOrigin).hostname}>`;
  const smtpUrl = config.security.smtpUrl;
  return {
    from,
    async send(message) {
      if (smtpUrl !== undefined) {
        const { createTransport } = await import('nodemailer');
        const transport = createTransport(smtpTransportOptions(smtpUrl, { ...options.tls, rejectUnauthorized: true }));
        try {
          await transport.sendMail({ from: headerValue(message.from), to: headerValue(message.to), subject: headerValue(message.subject), text: message.text, date: new Date(now()) });
        } catch (error) {
          throw mailFailure(error);
        } finally {
          transport.close();
        }
        return 'smtp';
      }
      await writeOutboxMail(join(config.dataDir, 'outbox'), message, now());
      return 'outbox';
    },
  };
}
