/** Client-side failures (as opposed to `ApiError` from the server): the class and codes of the catalogue in src/protocol/client-errors.ts. */
export { ClientError, type ClientErrorCode } from '../protocol/client-errors.js';
