// What the pages know about an item's place in the closed loop (API names, DESIGN §4).
export const STEPS = ['collected', 'accepted', 'dispatched', 'in_progress', 'resolved', 'closed'];
/** Statuses someone still has to act on (resolved waits for verification; closed and rejected are done). */
const OPEN = new Set(['collected', 'accepted', 'dispatched', 'in_progress']);
export const isOpen = (item) => OPEN.has(item.status);

/** The deadline that runs now: accepting while collected, then resolving; none once it is resolved. */
export const dueOf = (item) => (item.status === 'collected' ? item.acceptDue : isOpen(item) ? item.resolveDue : null);
