// The console's pages by path (the platform answers each of these paths with the app).
import { createRouter, createWebHistory } from 'vue-router';
import { homeOf, loadSession, session } from './session.js';

const routes = [
  // A role's first page (the redirect waits for who is signed in: the guard below loads it first).
  { path: '/', component: { render: () => null }, beforeEnter: () => homeOf(session.me) },
  { path: '/sign-in', component: () => import('./pages/SignIn.vue'), meta: { open: true } },
  { path: '/overview', component: () => import('./pages/Overview.vue'), meta: { wide: true } },
  { path: '/board', component: () => import('./pages/Board.vue'), meta: { wide: true } },
  { path: '/tasks', component: () => import('./pages/Tasks.vue') },
  { path: '/report', component: () => import('./pages/Report.vue') },
  { path: '/work-orders/:id', component: () => import('./pages/Item.vue'), props: (r) => ({ kind: 'work-orders', id: r.params.id }) },
  { path: '/tickets/:id', component: () => import('./pages/Item.vue'), props: (r) => ({ kind: 'tickets', id: r.params.id }) },
  { path: '/devices/:id', component: () => import('./pages/Device.vue'), props: true, meta: { wide: true } },
  { path: '/resident', component: () => import('./pages/Resident.vue') },
  { path: '/:rest(.*)*', redirect: '/' },
];

export const router = createRouter({ history: createWebHistory(), routes });

// Signed out, every page asks for the token first and comes back after (a link from a message).
router.beforeEach(async (to) => {
  if (!session.ready) await loadSession();
  if (!session.me && !to.meta.open) return { path: '/sign-in', query: to.fullPath === '/' ? {} : { next: to.fullPath } };
  if (session.me && to.path === '/sign-in' && !to.query.role) return homeOf(session.me);
  return true;
});
