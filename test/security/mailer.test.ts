/**
 * Mail through a real SMTP server on loopback (the `smtp-server` package, a third party run for
 * real): STARTTLS demanded by the URL is used before AUTH and refused when the server does not
 * offer it, implicit TLS with another AUTH method, a UTF-8 subject arrives intact, credentials are
 * never sent in clear, certificates are verified, and an error never quotes an address.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.js';
import { createMailer, MailError } from '../../src/server/security/mailer.js';

const SUBJECT = 'Sicherheitshinweis: Ihr Konto – ça va? 🦊';
const USER = 'burrow-mailer';
const PASSWORD = 'smtp pass with spaces & symbols';

let work: string;
let key: Buffer;
let cert: Buffer;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'burrow-mailer-'));
  const keyFile = join(work, 'key.pem');
  const certFile = join(work, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  key = readFileSync(keyFile);
  cert = readFileSync(certFile);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** What the SMTP server saw of one conversation. */
interface Seen {
  connections: number;
  auth: Array<{ method: string; username: string | null | undefined; password: string | null | undefined; secure: boolean }>;
  mails: Array<{ raw: string; secure: boolean; from: string; to: string[] }>;
}

async function startSmtp(options: SMTPServerOptions): Promise<{ port: number; seen: Seen; close: () => Promise<void> }> {
  const seen: Seen = { connections: 0, auth: [], mails: [] };
  const server = new SMTPServer({
    logger: false,
    key,
    cert,
    ...options,
    onConnect(_session, callback) {
      seen.connections += 1;
      callback();
    },
    onAuth(auth, session, callback) {
      seen.auth.push({ method: auth.method, username: auth.username, password: auth.password, secure: session.secure });
      if (auth.username === USER && auth.password === PASSWORD) callback(null, { user: USER });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        seen.mails.push({ raw: Buffer.concat(chunks).toString('utf8'), secure: session.secure, from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address, to: session.envelope.rcptTo.map((r) => r.address) });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return { port, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function mailerFor(url: string, tls: { ca?: Buffer } = { ca: cert }) {
  const config = loadConfig({ env: { BURROW_SMTP_URL: url }, overrides: { dataDir: join(work, 'data') } });
  return createMailer(config, { tls });
}

/** RFC 2047 §4: the text of encoded words (B and Q), adjacent words joined, after unfolding. */
function decodeHeader(raw: string, name: string): string {
  const match = new RegExp(`^${name}: (.*(?:\\r\\n[ \\t].*)*)`, 'mi').exec(raw);
  if (match === null) throw new Error(`no ${name} header`);
  const unfolded = match[1]!.replace(/\r\n([ \t])/g, '$1');
  return unfolded
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_all, _charset: string, encoding: string, text: string) =>
      encoding.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_hex, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8'),
    );
}

const message = { from: 'Burrow <burrow@localhost>', to: 'ada@example.org', subject: SUBJECT, text: 'Line one\nLine two: ünïcödé\n.\nA line that is only a dot, above.\n' };

describe('mail through SMTP (nodemailer)', () => {
  it('with ?starttls=required, upgrades to TLS before AUTH and delivers a UTF-8 subject and body intact', async () => {
    const smtp = await startSmtp({ authMethods: ['PLAIN', 'LOGIN'] });
    try {
      const mailer = mailerFor(`smtp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${smtp.port}?starttls=required`);
      expect(await mailer.send(message)).toBe('smtp');
      expect(smtp.seen.auth).toEqual([expect.objectContaining({ username: USER, password: PASSWORD, secure: true })]);
      expect(smtp.seen.mails).toHaveLength(1);
      const [mail] = smtp.seen.mails;
      expect(mail!.secure).toBe(true);
      expect(mail!.to).toEqual(['ada@example.org']);
      // Every header is 7-bit: the subject travels as encoded words and decodes to the original.
      const headers = mail!.raw.slice(0, mail!.raw.indexOf('\r\n\r\n'));
      expect(/^[\x20-\x7e\r\n\t]*$/.test(headers)).toBe(true);
      expect(decodeHeader(mail!.raw, 'Subject')).toBe(SUBJECT);
      expect(mail!.raw).toMatch(/^Content-Type: text\/plain; charset=utf-8/im);
    } finally {
      await smtp.close();
    }
  });

  it('with ?starttls=required, refuses a server that does not offer STARTTLS: no AUTH, no mail', async () => {
    const smtp = await startSmtp({ disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
    try {
      const mailer = mailerFor(`smtp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${smtp.port}?starttls=required`);
      await expect(mailer.send(message)).rejects.toBeInstanceOf(MailError);
      expect(smtp.seen.connections).toBe(1);
      expect(smtp.seen.auth).toEqual([]);
      expect(smtp.seen.mails).toEqual([]);
    } finally {
      await smtp.close();
    }
  });

  it('over implicit TLS (smtps://) signs in with the one AUTH method the server offers (LOGIN)', async () => {
    const smtp = await startSmtp({ secure: true, authMethods: ['LOGIN'] });
    try {
      const mailer = mailerFor(`smtps://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${smtp.port}`);
      expect(await mailer.send(message)).toBe('smtp');
      expect(smtp.seen.auth).toEqual([expect.objectContaining({ method: 'LOGIN', secure: true })]);
      expect(decodeHeader(smtp.seen.mails[0]!.raw, 'Subject')).toBe(SUBJECT);
    } finally {
      await smtp.close();
    }
  });

  it('never sends credentials in clear: a user without smtps:// or ?starttls=required is refused before connecting', async () => {
    const smtp = await startSmtp({ disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
    try {
      const mailer = mailerFor(`smtp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${smtp.port}`);
      const error = await mailer.send(message).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MailError);
      expect((error as Error).message).toMatch(/without TLS/);
      expect(smtp.seen.connections).toBe(0);
    } finally {
      await smtp.close();
    }
  });

  it('verifies the server certificate: one it cannot trust stops the mail', async () => {
    const smtp = await startSmtp({ authMethods: ['PLAIN'] });
    try {
      const mailer = mailerFor(`smtp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${smtp.port}?starttls=required`, {});
      const error = await mailer.send(message).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MailError);
      expect((error as Error).message).toMatch(/TLS to it failed/);
      expect(smtp.seen.auth).toEqual([]);
      expect(smtp.seen.mails).toEqual([]);
      // Without credentials and without ?starttls=required, STARTTLS is still tried and still verified.
      const opportunistic = mailerFor(`smtp://127.0.0.1:${smtp.port}`, {});
      await expect(opportunistic.send(message)).rejects.toBeInstanceOf(MailError);
      expect(smtp.seen.mails).toEqual([]);
    } finally {
      await smtp.close();
    }
  });

  it('with ?starttls=never, a relay on this host takes the mail in clear (no credentials allowed)', async () => {
    const smtp = await startSmtp({ authOptional: true });
    try {
      expect(await mailerFor(`smtp://127.0.0.1:${smtp.port}?starttls=never`, {}).send(message)).toBe('smtp');
      expect(smtp.seen.mails.map((m) => m.secure)).toEqual([false]);
      await expect(mailerFor(`smtp://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${smtp.port}?starttls=never`).send(message)).rejects.toThrow(/without TLS/);
    } finally {
      await smtp.close();
    }
  });

  it('a refused recipient fails with the SMTP stage and code, never the address', async () => {
    const smtp = await startSmtp({
      authOptional: true,
      onRcptTo(address, _session, callback) {
        const error = new Error(`<${address.address}>: no such user here`) as Error & { responseCode: number };
        error.responseCode = 550;
        callback(error);
      },
    });
    try {
      const mailer = mailerFor(`smtp://127.0.0.1:${smtp.port}?starttls=required`);
      const error = await mailer.send(message).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MailError);
      expect((error as Error).message).toMatch(/reply 550/);
      expect((error as Error).message).not.toContain('ada@example.org');
      expect((error as Error).message).not.toContain('example.org');
    } finally {
      await smtp.close();
    }
  });
});
