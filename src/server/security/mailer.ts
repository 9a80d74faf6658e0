/** Where operator alerts and member notices go: SMTP when configured, else the outbox directory. */
import { join } from 'node:path';
import type { Config } from '../config.js';
import { writeOutboxMail, type MailMessage } from './outbox.js';
import { sendSmtpMail } from './smtp.js';

export interface Mailer {
  /** Sends (or files) one message; answers the channel used. */
  send(message: MailMessage): Promise<'smtp' | 'outbox'>;
  /** The sender address mail from this server uses. */
  readonly from: string;
}

/** The operator's address for alerts: BURROW_ALERT_EMAIL, else a mailto: security contact. */
export function operatorAddress(config: Config): string {
  if (config.security.alertEmail !== undefined) return config.security.alertEmail;
  const contact = config.security.contact;
  if (contact?.startsWith('mailto:') === true) return decodeURIComponent(contact.slice('mailto:'.length).split('?')[0] ?? '');
  return 'operator@localhost';
}

/** The mailer the configuration asks for. */
export function createMailer(config: Config, options: { now?: () => number } = {}): Mailer {
  const now = options.now ?? (() => Date.now());
  const from = `Burrow <burrow@${config.live.publicOrigin === undefined ? 'localhost' : new URL(config.live.publicOrigin).hostname}>`;
  const smtpUrl = config.security.smtpUrl;
  return {
    from,
    async send(message) {
      if (smtpUrl !== undefined) {
        await sendSmtpMail(smtpUrl, message);
        return 'smtp';
      }
      await writeOutboxMail(join(config.dataDir, 'outbox'), message, now());
      return 'outbox';
    },
  };
}
