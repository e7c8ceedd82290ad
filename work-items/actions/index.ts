import type { Action } from '../transitions.ts';
import { accept } from './accept.ts';
import { dispatch, giveBack, grab } from './dispatch.ts';
import { escalateAction } from './escalate.ts';
import type { ActionHandler } from './handler.ts';
import { merge } from './merge.ts';
import { plain } from './plain.ts';
import { rate, revisit } from './rate.ts';
import { reopenAction } from './reopen.ts';
import { resolve, verify } from './resolve.ts';
import { urgent } from './urgent.ts';
import { reportIn, whistleAction } from './whistle.ts';

export type { ActionHandler, ActionRequest } from './handler.ts';

/**
 * One handler per action, behind one lookup (as aedes keeps one handler per packet kind). Every
 * action is in the transition table (transitions.ts); an action that writes only its status needs
 * no entry here. `auto_close` is the platform's own (intake.ts); a storm's `merge` is too, a person's is `merge.ts`.
 */
export const HANDLERS: Partial<Record<Action, ActionHandler>> = {
  accept,
  dispatch,
  transfer: dispatch,
  grab,
  return: giveBack,
  resolve,
  verify,
  reopen: reopenAction,
  escalate: escalateAction,
  whistle: whistleAction,
  report_in: reportIn,
  rate,
  revisit,
  merge,
  urgent,
};

export const handlerFor = (action: Action): ActionHandler => HANDLERS[action] ?? plain;
