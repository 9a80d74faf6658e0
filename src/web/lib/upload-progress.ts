/**
 * `fetch` with upload progress: the Fetch API cannot report how much of a request body has been
 * sent, XMLHttpRequest can. The API client takes a `fetch` implementation, so the app gives it
 * this one: binary uploads (sealed voice messages) go through XMLHttpRequest and report progress
 * to whoever listens; every other request is the browser's own fetch.
 */
type ProgressListener = (sent: number, total: number) => void;
const listeners = new Set<ProgressListener>();

/** Hears the progress of every binary upload; returns the unsubscribe function. */
export function onUploadProgress(listener: ProgressListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function parseHeaders(raw: string): Headers {
  const headers = new Headers();
  for (const line of raw.trim().split(/[\r\n]+/)) {
    const at = line.indexOf(':');
    if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return headers;
}

export const fetchWithUploadProgress: typeof fetch = (input, init) => {
  const body = init?.body;
  if (!(body instanceof Uint8Array) || (init?.method ?? 'GET').toUpperCase() !== 'POST') return fetch(input, init);
  return new Promise<Response>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    xhr.responseType = 'arraybuffer';
    // Same origin: the session cookie goes with it as with fetch's credentials: 'same-origin'.
    xhr.withCredentials = false;
    new Headers(init?.headers).forEach((value, name) => xhr.setRequestHeader(name, value));
    xhr.upload.onprogress = (event) => {
      for (const l of listeners) l(event.loaded, event.lengthComputable ? event.total : body.length);
    };
    xhr.onload = () => {
      const status = xhr.status;
      const nullBody = status === 204 || status === 205 || status === 304;
      resolve(new Response(nullBody ? null : (xhr.response as ArrayBuffer), { status, statusText: xhr.statusText, headers: parseHeaders(xhr.getAllResponseHeaders()) }));
    };
    xhr.onerror = () => reject(new TypeError('Failed to fetch'));
    xhr.onabort = () => reject(new DOMException('The upload was stopped', 'AbortError'));
    xhr.send(body as Uint8Array<ArrayBuffer>);
  });
};
