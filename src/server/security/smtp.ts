/**
 * A minimal SMTP client (RFC 5321) for alerts and notices: one message per connection, EHLO,
 * optional STARTTLS (`smtp://…?starttls=required`) or implicit TLS (`smtps://`), AUTH PLAIN when the
 * URL carries a user and password (only over TLS), MAIL FROM / RCPT TO / DATA with dot-stuffing.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { formatMail, type MailMessage } from './outbox.js';

export class SmtpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmtpError';
  }
}

class Conversation {
  #buffer = '';
  #waiters: Array<(line: string) => void> = [];
  #lines: string[] = [];
  #failed: Error | undefined;
  socket: Socket | TLSSocket;

  constructor(socket: Socket | TLSSocket) {
    this.socket = socket;
    this.#attach(socket);
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let index: number;
      while ((index = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, index).replace(/\r$/, '');
        this.#buffer = this.#buffer.slice(index + 1);
        const waiter = this.#waiters.shift();
        if (waiter !== undefined) waiter(line);
        else this.#lines.push(line);
      }
    });
    socket.on('error', (error) => { this.#failed = error; for (const w of this.#waiters.splice(0)) w(''); });
    socket.on('close', () => { this.#failed ??= new SmtpError('the SMTP server closed the connection'); for (const w of this.#waiters.splice(0)) w(''); });
  }

  upgrade(socket: TLSSocket): void {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    this.socket = socket;
    this.#buffer = '';
    this.#attach(socket);
  }

  #line(): Promise<string> {
    const ready = this.#lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#waiters.push((line) => (this.#failed !== undefined && line === '' ? reject(this.#failed) : resolve(line)));
    });
  }

  /** Reads one (possibly multi-line) reply; throws unless its code is `expected`. */
  async reply(expected: number): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.#line();
      lines.push(line);
      if (!/^\d{3}-/.test(line)) break;
    }
    const code = Number(lines[lines.length - 1]!.slice(0, 3));
    if (code !== expected) throw new SmtpError(`the SMTP server answered ${code} where ${expected} was expected`);
    return lines;
  }

  async command(line: string, expected: number): Promise<string[]> {
    this.socket.write(`${line}\r\n`);
    return this.reply(expected);
  }
}

function address(value: string): string {
  const match = /<([^<>\s]+)>/.exec(value);
  const bare = match?.[1] ?? value.trim();
  if (!/^[^\s<>@]+@[^\s<>@]+$/.test(bare)) throw new SmtpError('a mail address is malformed');
  return bare;
}

/** Sends one message through the SMTP server of `url`. */
export async function sendSmtpMail(url: string, message: MailMessage, options: { timeoutMs?: number } = {}): Promise<void> {
  const parsed = new URL(url);
  const implicitTls = parsed.protocol === 'smtps:';
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = Number(parsed.port || (implicitTls ? 465 : 25));
  const startTls = parsed.searchParams.get('starttls') === 'required';
  const socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
    const s = implicitTls ? connectTls({ host, port, servername: host }, () => resolve(s)) : connectTcp({ host, port }, () => resolve(s));
    s.once('error', reject);
  });
  socket.setTimeout(options.timeoutMs ?? 15_000, () => socket.destroy(new SmtpError('the SMTP server timed out')));
  const talk = new Conversation(socket);
  try {
    await talk.reply(220);
    let features = await talk.command('EHLO burrow', 250);
    let secure = implicitTls;
    if (startTls) {
      await talk.command('STARTTLS', 220);
      const tls = await new Promise<TLSSocket>((resolve, reject) => {
        const t = connectTls({ socket, servername: host }, () => resolve(t));
        t.once('error', reject);
      });
      talk.upgrade(tls);
      secure = true;
      features = await talk.command('EHLO burrow', 250);
    }
    if (parsed.username !== '') {
      if (!secure) throw new SmtpError('refusing to send SMTP credentials without TLS (use smtps:// or ?starttls=required)');
      if (!features.some((line) => /AUTH\b.*\bPLAIN\b/i.test(line))) throw new SmtpError('the SMTP server does not offer AUTH PLAIN');
      const token = Buffer.from(`\0${decodeURIComponent(parsed.username)}\0${decodeURIComponent(parsed.password)}`, 'utf8').toString('base64');
      await talk.command(`AUTH PLAIN ${token}`, 235);
    }
    await talk.command(`MAIL FROM:<${address(message.from)}>`, 250);
    await talk.command(`RCPT TO:<${address(message.to)}>`, 250);
    await talk.command('DATA', 354);
    // RFC 5321 §4.5.2: a line starting with a dot gets one more.
    const body = formatMail(message, new Date()).replace(/\r\n\./g, '\r\n..');
    talk.socket.write(body.endsWith('\r\n') ? body : `${body}\r\n`);
    await talk.command('.', 250);
    await talk.command('QUIT', 221).catch(() => undefined);
  } finally {
    talk.socket.destroy();
  }
}
