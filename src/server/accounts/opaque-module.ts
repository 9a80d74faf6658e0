/**
 * `@serenity-kit/opaque` (OPAQUE, RFC 9807, as WebAssembly), imported and instantiated on first use:
 * the first sign-up, login or recovery, or a first start that creates the server setup. Compiling
 * its WebAssembly is work a server need not do before it listens.
 */
import type * as OpaqueModule from '@serenity-kit/opaque';

export type Opaque = typeof OpaqueModule;

let loading: Promise<Opaque> | undefined;

/** The OPAQUE library, ready to use (its WebAssembly instantiated). */
export function loadOpaque(): Promise<Opaque> {
  loading ??= import('@serenity-kit/opaque').then(async (opaque) => {
    await opaque.ready;
    return opaque;
  });
  return loading;
}
