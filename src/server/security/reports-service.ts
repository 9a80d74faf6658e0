/**
 * The security-report intake: stores what a researcher sends and alerts the operator at once (an
 * error-level log line and a mail). The reporter's contact is personal data, so it is sealed with
 * the server's email key; the alert carries only the report's id, never its text.
 */
import type { Clock, Random } from '../deps.js';
import { newId } from '../deps.js';
import { openEmail, sealEmail, type Secrets } from '../secrets.js';
import type { SecurityReportRow, SecurityReportsRepository } from './reports-repository.js';

export interface NewSecurityReport {
  summary: string;
  details: string;
  contact?: string;
}

/** A report as the operator reads it, contact opened. */
export interface SecurityReport {
  id: string;
  receivedAt: number;
  summary: string;
  details: string;
  contact: string | null;
  status: 'open' | 'acked';
  ackedAt: number | null;
}

export interface SecurityReportsService {
  /** Stores the report, alerts the operator and answers its acknowledgement id. */
  submit(report: NewSecurityReport): Promise<{ reportId: string }>;
}

/** Associated data binding a sealed contact to its report, distinct from any account id. */
function contactContext(reportId: string): string {
  return `security-report:${reportId}`;
}

/** Opens a stored report for the operator. */
export function openSecurityReport(row: SecurityReportRow, secrets: Secrets | undefined): SecurityReport {
  let contact: string | null = null;
  if (row.contact_sealed !== null) {
    try {
      contact = secrets === undefined ? '(sealed: the secrets file is needed to read it)' : openEmail(secrets, contactContext(row.id), row.contact_sealed);
    } catch {
      contact = '(sealed contact does not open with these secrets)';
    }
  }
  return { id: row.id, receivedAt: row.received_at, summary: row.summary, details: row.details, contact, status: row.status, ackedAt: row.acked_at };
}

export function createSecurityReportsService(deps: {
  repository: SecurityReportsRepository;
  secrets: Secrets;
  clock: Clock;
  random: Random;
  /** Tells the operator a report arrived; must not throw for a failed mail (the report is stored). */
  alert: (reportId: string) => Promise<void>;
}): SecurityReportsService {
  return {
    async submit(report) {
      const id = newId(deps.random);
      const contact = report.contact?.trim();
      await deps.repository.insert({
        id,
        received_at: deps.clock.now(),
        summary: report.summary,
        details: report.details,
        contact_sealed: contact === undefined || contact === '' ? null : sealEmail(deps.secrets, contactContext(id), contact),
        status: 'open',
        acked_at: null,
      });
      await deps.alert(id);
      return { reportId: id };
    },
  };
}
