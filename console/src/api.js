// The platform's REST API, signed in by the session cookie (POST /api/v1/session): the browser
// sends it with every same-origin request and with the live event stream.
import { onMounted, onUnmounted } from 'vue';

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

/** Uploads one photo (taken or chosen on the phone); resolves with its id. */
export async function uploadPhoto(file) {
  const body = new FormData();
  body.append('file', file, file.name);
  return (await api('POST', '/api/v1/photos', body)).id;
}

// One stream per page however many parts listen (the platform allows a few per person).
const WORK_ITEM_EVENTS = ['created', 'transition', 'escalated', 'reminder', 'whistled', 'counted', 'report_in_late'];
const listeners = new Set();
let source;

/**
 * Work-item events (`{event, item, …}`) and alarms raised or cleared (`{event: 'alarm', alarm}`)
 * as they happen, within the signed-in person's reach. Returns a function that stops listening.
 */
export function liveEvents(onEvent) {
  listeners.add(onEvent);
  if (!source) {
    source = new EventSource('/api/v1/events');
    const fan = (e) => listeners.forEach((l) => l(e));
    for (const name of WORK_ITEM_EVENTS) source.addEventListener(name, (m) => fan(JSON.parse(m.data)));
    source.addEventListener('alarm', (m) => fan({ ...JSON.parse(m.data), kind: 'alarm' }));
  }
  return () => {
    listeners.delete(onEvent);
    if (!listeners.size) {
      source?.close();
      source = undefined;
    }
  };
}

/** Calls `fn` at most once per `ms` however many events arrive (a storm is one refresh). */
export function coalesce(fn, ms = 300) {
  let timer;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      fn();
    }, ms);
  };
}

/**
 * A page's data, loaded when it mounts and again whenever the event stream says something moved
 * (`when` picks the events that matter; a burst is one reload); the stream closes with the page.
 */
export function useLive(load, { when = () => true, ms = 300 } = {}) {
  let stop;
  onMounted(async () => {
    await load();
    const again = coalesce(load, ms);
    stop = liveEvents((e) => when(e) && again());
  });
  onUnmounted(() => stop?.());
}
