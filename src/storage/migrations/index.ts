/** Every migration, in order. Names are permanent: never rename or edit a released migration; add a new one. */
import type { Migration } from 'kysely/migration';
import * as m0001 from './0001-accounts.js';
import * as m0002 from './0002-families.js';
import * as m0003 from './0003-messages.js';
import * as m0004 from './0004-security.js';
import * as m0005 from './0005-shared-limits.js';
import * as m0006 from './0006-account-vaults.js';
import * as m0007 from './0007-family-log.js';
import * as m0008 from './0008-toys.js';
import * as m0009 from './0009-account-kem-keys.js';
import * as m0010 from './0010-signed-receipts.js';
import * as m0011 from './0011-invite-descriptions.js';
import * as m0012 from './0012-registration.js';
import * as m0013 from './0013-message-declines.js';
import * as m0014 from './0014-removed-toys.js';
import * as m0019 from './0019-push-subscriptions.js';
import * as m0018 from './0018-member-profiles.js';
import * as m0020 from './0020-scope-keys.js';

export const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  '0001-accounts': m0001,
  '0002-families': m0002,
  '0003-messages': m0003,
  '0004-security': m0004,
  '0005-shared-limits': m0005,
  '0006-account-vaults': m0006,
  '0007-family-log': m0007,
  '0008-toys': m0008,
  '0009-account-kem-keys': m0009,
  '0010-signed-receipts': m0010,
  '0011-invite-descriptions': m0011,
  '0012-registration': m0012,
  '0013-message-declines': m0013,
  '0014-removed-toys': m0014,
  '0019-push-subscriptions': m0019,
  '0018-member-profiles': m0018,
  '0020-scope-keys': m0020,
});
