// The platform's REST API, signed in by the session cookie (POST /api/v1/session): the browser
// sends it with every same-origin request and with the live event stream.
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

let language = 'zh';
export const setLanguage = (l) => (language = l);

export async function api(method, url, body) {
  const init = { method, headers: { 'accept-language': language === 'en' ? 'en' : 'zh-CN' }, credentials: 'same-origin' };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** Work-item events as they happen, within the signed-in person's reach. */
export function liveEvents(onEvent) {
  const source = new EventSource('/api/v1/events');
  for (const name of ['created', 'transition', 'escalated', 'reminder', 'whistled', 'counted', 'report_in_late']) {
    source.addEventListener(name, (m) => onEvent(JSON.parse(m.data)));
  }
  return () => source.close();
}
