/**
 * Checks real answers against the API documents the server serves: an HTTP answer against its
 * operation in the OpenAPI document (a documented status, a documented content type, a body that
 * validates against that response's schema with ajv, the headers it must carry), and a live frame
 * against the AsyncAPI document's server messages. Each check returns what is wrong, as sentences;
 * an empty list means the answer is as documented.
 */
import type { LightMyRequestResponse } from 'fastify';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats, { type FormatsPlugin } from 'ajv-formats';
import { openApiPath } from '../../src/server/http/openapi.js';

type Json = Record<string, unknown>;

/** ajv-formats is CommonJS: under NodeNext its default import is the module, whose `default` is the plugin. */
export const addFormats = (formats as unknown as { default: FormatsPlugin }).default;

/** The part of an answer the checks read: `app.inject`'s answer, or one built from `fetch`. */
export type Answer = Pick<LightMyRequestResponse, 'statusCode' | 'headers' | 'body'>;

/** JSON Pointer escaping (RFC 6901 §3). */
function pointer(...parts: string[]): string {
  return parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

function essence(contentType: unknown): string | undefined {
  if (typeof contentType !== 'string') return undefined;
  return contentType.split(';')[0]!.trim().toLowerCase();
}

export interface OpenApiConformance {
  /** What is wrong with `answer` to `method url` (`url` as the route registry spells it, `/v1/sessions/:sessionId`). */
  check(route: { method: string; url: string }, answer: Answer): string[];
}

/** A checker for answers against `doc`, an OpenAPI 3.1 document as the server serves it. */
export function createOpenApiConformance(doc: Json): OpenApiConformance {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, 'openapi');
  const components = doc.components as { responses: Record<string, Json>; headers: Record<string, Json> };
  const validators = new Map<string, ValidateFunction>();

  const deref = (value: Json): Json => {
    const ref = value.$ref;
    if (typeof ref !== 'string') return value;
    const [, kind, name] = /^#\/components\/(responses|headers)\/(.+)$/.exec(ref) ?? [];
    const target = kind === undefined ? undefined : components[kind as 'responses' | 'headers'][name!];
    if (target === undefined) throw new Error(`unresolvable reference ${ref}`);
    return target;
  };

  return {
    check(route, answer) {
      const path = openApiPath(route.url);
      const method = route.method.toLowerCase();
      const label = `${route.method} ${route.url}`;
      const operation = (doc.paths as Record<string, Record<string, Json>>)[path]?.[method];
      if (operation === undefined) return [`${label} is not in the OpenAPI document`];
      const responses = operation.responses as Record<string, Json>;
      const status = String(answer.statusCode);
      if (responses[status] === undefined) {
        return [`${label} answered ${status}, which its operation does not document (documented: ${Object.keys(responses).join(', ')}): ${answer.body.slice(0, 200)}`];
      }
      const response = deref(responses[status]);
      const problems: string[] = [];
      for (const [name, header] of Object.entries((response.headers ?? {}) as Record<string, Json>)) {
        if (deref(header).required === true && answer.headers[name.toLowerCase()] === undefined) problems.push(`${label} ${status} lacks the header ${name}`);
      }
      const content = response.content as Record<string, { schema?: Json }> | undefined;
      const type = essence(answer.headers['content-type']);
      if (content === undefined) {
        if (answer.body.length > 0) problems.push(`${label} ${status} has a body (${type ?? 'no type'}) where the document says none`);
        return problems;
      }
      if (type === undefined || content[type] === undefined) {
        problems.push(`${label} ${status} is ${type ?? 'without a content type'}, not one the document names (${Object.keys(content).join(', ')})`);
        return problems;
      }
      if (!type.endsWith('json')) return problems;
      const key = `openapi#/${pointer('paths', path, method, 'responses', status)}`;
      let validate = validators.get(key);
      if (validate === undefined) {
        // A response given by reference has its schema under components; the ones here are inline.
        validate = ajv.getSchema(`${key}/content/${pointer(type)}/schema`);
        if (validate === undefined) throw new Error(`no schema at ${key}`);
        validators.set(key, validate);
      }
      let body: unknown;
      try {
        body = JSON.parse(answer.body);
      } catch {
        problems.push(`${label} ${status} is not JSON: ${answer.body.slice(0, 100)}`);
        return problems;
      }
      if (!validate(body)) problems.push(`${label} ${status} does not match its schema: ${ajv.errorsText(validate.errors)}; body ${answer.body.slice(0, 200)}`);
      return problems;
    },
  };
}

export interface AsyncApiConformance {
  /** What is wrong with `frame`, a frame the server sent on the live channel. */
  checkServerFrame(frame: unknown): string[];
}

/** A checker for live frames against `doc`, the AsyncAPI 3.0 document as the server serves it. */
export function createAsyncApiConformance(doc: Json): AsyncApiConformance {
  // AsyncAPI 3.0's default schema format is a superset of JSON Schema draft 07.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const operations = doc.operations as Record<string, { action: string; messages: Array<{ $ref: string }>; reply?: { messages: Array<{ $ref: string }> } }>;
  const messages = (doc.components as { messages: Record<string, { payload: Json }> }).messages;
  // What the server sends: the messages of its `receive` operations and the replies to the client's `send`s.
  const names = new Set<string>();
  for (const operation of Object.values(operations)) {
    const refs = operation.action === 'receive' ? operation.messages : operation.reply?.messages ?? [];
    for (const ref of refs) names.add(ref.$ref.slice(ref.$ref.lastIndexOf('/') + 1));
  }
  const validators = [...names].map((name) => ({ name, validate: ajv.compile(messages[name]!.payload) }));
  return {
    checkServerFrame(frame) {
      if (validators.some(({ validate }) => validate(frame))) return [];
      return [`a live frame matches no server message of the AsyncAPI document (${[...names].join(', ')}): ${JSON.stringify(frame).slice(0, 300)}`];
    },
  };
}
