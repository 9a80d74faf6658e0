/**
 * Fastify's own schema compilers (Ajv for requests, fast-json-stringify for responses), each
 * route's schemas compiled when the route is first used instead of all of them before the server
 * listens. Loading Ajv and compiling every route's schemas was about a quarter of `burrow serve`'s
 * start-up CPU (docs/benchmarks.md); a route's first request now pays its own compilation once
 * (about a millisecond per schema).
 *
 * Nothing else changes: the compilers are the ones Fastify would have used (resolved from
 * Fastify's own dependencies), built with the same server options (`ajv.customOptions`), and each
 * route gets the same compiled function it would have had, only later. The validator wrapper
 * forwards Ajv's root-data context (Fastify passes it when the function has `schemaEnv`) and
 * exposes `errors` after each call, as Fastify reads them.
 */
import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>;
type CompilersFactory = NonNullable<SchemaController['compilersFactory']>;
type BuildValidator = NonNullable<CompilersFactory['buildValidator']>;
type BuildSerializer = NonNullable<CompilersFactory['buildSerializer']>;
type Validate = ((data: unknown, context?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown };

/** `require` as seen from Fastify's package, so its compilers are exactly the versions it depends on. */
function fastifyRequire(): NodeRequire {
  const ours = createRequire(import.meta.url);
  return createRequire(ours.resolve('fastify'));
}

/** Validators built on first use; Ajv itself is loaded with the first one. */
function lazyValidators(): BuildValidator {
  let selector: BuildValidator | undefined;
  return (externalSchemas, ajvOptions) => {
    let compiler: ReturnType<BuildValidator> | undefined;
    return (route) => {
      let compiled: Validate | undefined;
      const validate: Validate = (data, context) => {
        if (compiled === undefined) {
          selector ??= (fastifyRequire()('@fastify/ajv-compiler') as () => BuildValidator)();
          compiler ??= selector(externalSchemas, ajvOptions);
          compiled = compiler(route) as Validate;
        }
        const result = compiled.schemaEnv === undefined ? compiled(data) : compiled(data, context);
        validate.errors = compiled.errors;
        return result;
      };
      // Fastify hands Ajv validators the parent object so Ajv may replace the root value; passing
      // it always is harmless for a function that does not read it.
      validate.schemaEnv = true;
      return validate as ReturnType<ReturnType<BuildValidator>>;
    };
  };
}

/** Response serializers built on first use; fast-json-stringify is loaded with the first one. */
function lazySerializers(): BuildSerializer {
  let selector: BuildSerializer | undefined;
  return (externalSchemas, serializerOptions) => {
    let compiler: ReturnType<BuildSerializer> | undefined;
    return (route) => {
      let compiled: ((data: unknown) => string) | undefined;
      return (data: unknown) => {
        if (compiled === undefined) {
          selector ??= (fastifyRequire()('@fastify/fast-json-stringify-compiler') as () => BuildSerializer)();
          compiler ??= selector(externalSchemas, serializerOptions);
          compiled = compiler(route) as (data: unknown) => string;
        }
        return compiled(data);
      };
    };
  };
}

/** The `schemaController` server option with both lazy compilers. */
export function lazySchemaController(): SchemaController {
  return { compilersFactory: { buildValidator: lazyValidators(), buildSerializer: lazySerializers() } };
}
