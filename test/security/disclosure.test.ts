/**
 * Vulnerability disclosure: security.txt (RFC 9116) from the configuration, and the report intake
 * that stores a stranger's report, alerts the operator (an error-level log line, and a mail in the
 * outbox or through SMTP) and shows up in `burrow reports` (the CLI, in process).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock, startTestServer, type TestServer } from '../server/helpers.js';
import { burrow as runBurrow } from '../support/cli.js';

const REPORT = {
  summary: 'Blob ids are guessable-marker-summary',
  details: 'Steps: marker-details-7f3a. Impact: none, this is a test.',
  contact: 'researcher-marker@example.net',
};

function logCollector(): { stream: Writable; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const raw: string[] = [];
  const stream = new Writable({ write(chunk, _encoding, done) { raw.push(...String(chunk).split('\n').filter(Boolean)); done(); } });
  return { stream, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>), text: () => raw.join('\n') };
}

async function burrow(args: string[]) {
  const run = await runBurrow(args);
  return { status: run.code, stdout: run.stdout, stderr: run.stderr };
}

describe('security.txt', () => {
  it('names the configured contact, the intake, the operator\'s expiry, the policy and the canonical URL', async () => {
    const clock = manualClock(Date.UTC(2026, 10, 1));
    const expires = Date.UTC(2027, 3, 30, 12);
    const server = await startTestServer({ clock, overrides: { security: { contact: 'mailto:security@example.org', policyUrl: 'https://example.org/security-policy', securityTxtExpires: expires }, live: { publicOrigin: 'https://burrow.example' } } });
    try {
      const answer = await server.app.inject({ method: 'GET', url: '/.well-known/security.txt' });
      expect(answer.statusCode).toBe(200);
      expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
      const fields = answer.body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)] as const);
      expect(fields.filter(([k]) => k === 'Contact').map(([, v]) => v)).toEqual(['mailto:security@example.org', 'https://burrow.example/v1/security/reports']);
      expect(fields).toContainEqual(['Expires', '2027-04-30T12:00:00Z']);
      expect(fields).toContainEqual(['Policy', 'https://example.org/security-policy']);
      expect(fields).toContainEqual(['Preferred-Languages', 'en']);
      expect(fields).toContainEqual(['Canonical', 'https://burrow.example/.well-known/security.txt']);
    } finally {
      await server.close();
    }
  });

  it('never takes a Contact from the Host header nor publishes an http one, over real HTTP', async () => {
    const expires = Date.UTC(2027, 3, 30);
    const withContact = await startTestServer({ overrides: { security: { contact: 'mailto:security@example.org', securityTxtExpires: expires }, live: { publicOrigin: 'http://burrow.example' } } });
    try {
      await withContact.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (withContact.app.server.address() as AddressInfo).port;
      // A forged Host (and forwarded headers from an untrusted peer) must not reach the file.
      const body = await rawGet(port, '/.well-known/security.txt', { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' });
      expect(body.status).toBe(200);
      const contacts = body.text.split('\n').filter((l) => l.startsWith('Contact:'));
      // The public origin is http: neither the intake there nor a Canonical is published.
      expect(contacts).toEqual(['Contact: mailto:security@example.org']);
      expect(body.text).not.toContain('evil.example');
      expect(body.text).not.toMatch(/http:\/\//);
      expect(body.text).not.toContain('Canonical:');
      expect(body.text).not.toContain('127.0.0.1');
    } finally {
      await withContact.close();
    }
  });

  it('is not published (404) without a contact, or without an expiry the operator set', async () => {
    for (const security of [{}, { securityTxtExpires: Date.UTC(2027, 3, 30) }, { contact: 'mailto:security@example.org' }]) {
      const server = await startTestServer({ overrides: { security } });
      try {
        await server.app.listen({ host: '127.0.0.1', port: 0 });
        const answer = await rawGet((server.app.server.address() as AddressInfo).port, '/.well-known/security.txt', { host: 'burrow.example' });
        expect(answer.status, JSON.stringify(security)).toBe(404);
        expect(answer.text).not.toContain('Contact:');
        expect(answer.text).not.toContain('burrow.example');
      } finally {
        await server.close();
      }
    }
  });
});

/** A GET over a real socket with exactly these headers (fetch would not send a forged Host). */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
    request.end();
  });
}

describe('the security-report intake', () => {
  let server: TestServer;
  const log = logCollector();
  let reportId: string;

  beforeAll(async () => {
    server = await startTestServer({ log: { stream: log.stream, level: 'info' } });
  });
  afterAll(async () => { await server.close(); });

  it('stores a report without an account, answers an acknowledgement id, and alerts the operator in the log and the outbox', async () => {
    const answer = await server.app.inject({ method: 'POST', url: '/v1/security/reports', payload: REPORT });
    expect(answer.statusCode, answer.body).toBe(201);
    const body = answer.json<{ reportId: string; message: string }>();
    expect(body.reportId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(body.message).toContain('Thank you');
    reportId = body.reportId;

    const alert = log.lines().find((l) => l.alert === 'security-report');
    expect(alert).toMatchObject({ level: 50, reportId });
    for (const marker of ['marker-summary', 'marker-details', 'researcher-marker']) expect(log.text()).not.toContain(marker);

    const outbox = join(server.dataDir, 'outbox');
    const mails = readdirSync(outbox).filter((n) => n.endsWith('.eml'));
    expect(mails).toHaveLength(1);
    const mail = readFileSync(join(outbox, mails[0]!), 'utf8');
    expect(mail).toContain(`Subject: [Burrow] Security report ${reportId}`);
    expect(mail).toContain(`burrow reports show ${reportId}`);
    expect(mail).not.toContain('marker-details');

    const row = await server.store.db.selectFrom('security_reports').selectAll().where('id', '=', reportId).executeTakeFirstOrThrow();
    expect(row.status).toBe('open');
    expect(row.contact_sealed).not.toBeNull();
    expect(row.contact_sealed).not.toContain('researcher');
  });

  it('refuses an oversized or malformed report and stores nothing', async () => {
    const before = await server.store.db.selectFrom('security_reports').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    for (const payload of [{ ...REPORT, details: 'x'.repeat(16_001) }, { ...REPORT, summary: 's'.repeat(201) }, { summary: 'only a summary' }, { ...REPORT, extra: true }]) {
      const answer = await server.app.inject({ method: 'POST', url: '/v1/security/reports', payload, headers: { 'x-forwarded-for': '192.0.2.9' } });
      expect(answer.statusCode).toBe(400);
    }
    const after = await server.store.db.selectFrom('security_reports').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('does not spend the report budget on posts that fail validation', async () => {
    const limited = await startTestServer();
    try {
      const statuses: number[] = [];
      // Twenty malformed reports first (too long, missing details, an unknown field, not JSON)...
      const bad = [{ ...REPORT, details: 'x'.repeat(16_001) }, { summary: 'only a summary' }, { ...REPORT, extra: true }];
      for (let i = 0; i < 20; i++) {
        const answer = i % 4 === 3
          ? await limited.app.inject({ method: 'POST', url: '/v1/security/reports', payload: '{"summary":', headers: { 'content-type': 'application/json' } })
          : await limited.app.inject({ method: 'POST', url: '/v1/security/reports', payload: bad[i % 4]! });
        expect(answer.statusCode).toBe(400);
      }
      // ...and the reporter still has all five.
      for (let i = 0; i < 6; i++) statuses.push((await limited.app.inject({ method: 'POST', url: '/v1/security/reports', payload: REPORT })).statusCode);
      expect(statuses).toEqual([201, 201, 201, 201, 201, 429]);
    } finally {
      await limited.close();
    }
  });

  it('is rate-limited tightly per address', async () => {
    const limited = await startTestServer();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await limited.app.inject({ method: 'POST', url: '/v1/security/reports', payload: REPORT })).statusCode);
      expect(statuses.slice(0, 5)).toEqual([201, 201, 201, 201, 201]);
      expect(statuses.slice(5)).toEqual([429, 429]);
    } finally {
      await limited.close();
    }
  });

  it('is listed, shown with the contact opened, and acknowledged by `burrow reports`', async () => {
    const list = await burrow(['reports', 'list', '--data', server.dataDir]);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toContain(reportId);
    expect(list.stdout).toContain(REPORT.summary);
    expect(list.stdout).toContain('open');

    const show = await burrow(['reports', 'show', reportId, '--data', server.dataDir, '--json']);
    expect(show.status, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: reportId, summary: REPORT.summary, details: REPORT.details, contact: REPORT.contact, status: 'open' });

    expect((await burrow(['reports', 'ack', reportId, '--data', server.dataDir])).status).toBe(0);
    const listed = JSON.parse((await burrow(['reports', 'list', '--data', server.dataDir, '--json'])).stdout) as { reports: Array<{ id: string; status: string }> };
    expect(listed.reports.find((r) => r.id === reportId)?.status).toBe('acked');
    expect((await burrow(['reports', 'show', 'no-such-report', '--data', server.dataDir])).status).toBe(1);
  }, 60_000);
});

describe('alert mail through SMTP', () => {
  it('reaches the operator\'s address through the configured SMTP server', async () => {
    const received: Array<{ to: string[]; raw: string }> = [];
    let delivered!: () => void;
    const done = new Promise<void>((resolve) => { delivered = resolve; });
    // A real SMTP server on loopback (the smtp-server package), without STARTTLS: a relay on this host.
    const smtp = new SMTPServer({
      logger: false,
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
          callback();
          delivered();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const port = (smtp.server.address() as { port: number }).port;
    const server = await startTestServer({ overrides: { security: { smtpUrl: `smtp://127.0.0.1:${port}`, alertEmail: 'ops@example.org' } } });
    try {
      const answer = await server.app.inject({ method: 'POST', url: '/v1/security/reports', payload: REPORT });
      expect(answer.statusCode).toBe(201);
      await done;
      const { reportId } = answer.json<{ reportId: string }>();
      expect(received.map((r) => r.to)).toEqual([['ops@example.org']]);
      expect(received[0]!.raw).toMatch(new RegExp(`^Subject: .*${reportId}`, 'm'));
      expect(existsSync(join(server.dataDir, 'outbox'))).toBe(false);
    } finally {
      await server.close();
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    }
  });
});
