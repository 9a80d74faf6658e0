/** Every migration, in order. Names are permanent: never rename or edit a released migration; add a new one. */
import type { Migration } from 'kysely';
import * as m0001 from './0001-accounts.js';

export const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  '0001-accounts': m0001,
});
