/**
 * Telling the family what a client or toy refused. When a device refuses something the server
 * delivered — a family key that does not match its signed commitment, a forked roster, a pairing
 * run beyond the toy's own limit — it records a `client-refusal` event in the family's security log,
 * which guardians read. The device's own refusal is what protects the family; this report only
 * makes the attempt visible, and a hostile server can of course drop it, so it is best effort.
 */
import type { Static } from '@sinclair/typebox';
import { RefusalReport } from '../protocol/family-log.js';
import type { BurrowApi } from './api.js';

export type RefusalReportOptions = { familyId: string } & Static<typeof RefusalReport>;

const CODE = new RegExp(RefusalReport.properties.code.pattern ?? '^$');

/** Records a refusal in the family security log; never throws, answers whether the server took it. */
export async function reportRefusal(api: BurrowApi, options: RefusalReportOptions): Promise<boolean> {
  const { familyId, code, epoch, messageId } = options;
  if (!CODE.test(code)) return false;
  const body: Static<typeof RefusalReport> = { code, ...(epoch === undefined ? {} : { epoch }), ...(messageId === undefined ? {} : { messageId }) };
  try {
    await api.call('POST', `/v1/families/${encodeURIComponent(familyId)}/log/refusals`, undefined, body);
    return true;
  } catch {
    return false;
  }
}
