// Who is signed in, and the names of places (the org tree), loaded once per sign-in.
import { reactive } from 'vue';
import { api } from './api.js';
import { words } from './words.js';

export const session = reactive({ me: null, ready: false, places: {} });

export async function loadSession() {
  words.vocabulary ??= await api('GET', '/api/v1/vocabulary');
  try {
    session.me = await api('GET', '/api/v1/me');
    const { items } = await api('GET', '/api/v1/org');
    const places = {};
    const walk = (n) => {
      places[n.id] = { id: n.id, kind: n.kind, name: n.name, parentId: n.parentId, children: n.children.map((c) => c.id) };
      n.children.forEach(walk);
    };
    items.forEach(walk);
    session.places = places;
  } catch {
    session.me = null;
  }
  session.ready = true;
  return session.me;
}

export const placeName = (id) => (id && session.places[id]?.name) || id || '';

/** 梨园社区 · 梨园第一网格 · 1号楼: where an item or alarm is, by name. */
export const placeOf = (row) => [row.communityId, row.gridId, row.buildingId].filter(Boolean).map(placeName).join(' · ');

/** Each role's first page. */
export function homeOf(me) {
  if (!me) return '/sign-in';
  switch (me.role) {
    case 'admin':
    case 'street_dispatcher':
    case 'community_dispatcher':
      return '/overview';
    case 'grid_worker':
      return '/tasks';
    case 'property_manager':
    case 'property_staff':
      return '/board?kind=tickets';
    case 'department':
      return '/board';
    case 'resident':
      return '/resident';
    default:
      return '/sign-in?role=none';
  }
}

/** The pages a role reaches from the bar. */
export function navOf(me) {
  const r = me?.role;
  if (['admin', 'street_dispatcher', 'community_dispatcher'].includes(r)) return [['/overview', 'navOverview'], ['/board', 'navBoard'], ['/board?kind=tickets', 'navTickets'], ['/report', 'navReport']];
  if (r === 'grid_worker') return [['/tasks', 'navTasks'], ['/board', 'navBoard'], ['/report', 'navReport']];
  if (r === 'property_manager') return [['/board?kind=tickets', 'navTickets'], ['/board', 'navBoard']];
  if (r === 'property_staff') return [['/board?kind=tickets', 'navTickets']];
  if (r === 'department') return [['/board', 'navBoard']];
  return [];
}
