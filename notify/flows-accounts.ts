import { SERVICE_PREFIX } from '../broker/identity.ts';
import type { Queryable } from '../core/store/db.ts';
import { generateSecret, hashSecret, tokenDigest } from '../core/secrets.ts';
import { getServiceAccount, insertServiceAccount, setServiceAccountSecret } from '../core/store/service-accounts.ts';
import { getUser, insertUser, setUserToken } from '../core/store/users.ts';

/** The embedded flows' MQTT account (its client id is the same) and API user, made at first start. */
export const FLOWS_MQTT_USERNAME = `${SERVICE_PREFIX}notify-flows`;
export const FLOWS_USER_ID = 'notify-flows';

export interface FlowsCredentials {
  mqttUsername: string;
  mqttPassword: string;
  apiToken: string;
}

/**
 * Fresh credentials for the embedded flows at every start: the MQTT service account (subscribe
 * `platform/workitems/#`, publish nothing) and the `notifier` user (every item and contact, read;
 * notices, written). They live only in the child's environment; the store keeps their digests.
 * An admin who revoked either has switched the flows off: undefined, and the reason.
 */
export async function flowsCredentials(db: Queryable): Promise<FlowsCredentials | { refused: string }> {
  const mqttPassword = generateSecret();
  const apiToken = generateSecret();
  const account = await getServiceAccount(db, FLOWS_MQTT_USERNAME);
  if (account) await setServiceAccountSecret(db, FLOWS_MQTT_USERNAME, await hashSecret(mqttPassword));
  else {
    const { rows } = await db.query('SELECT 1 FROM service_accounts WHERE username = $1', [FLOWS_MQTT_USERNAME]);
    if (rows.length) return { refused: `service account ${FLOWS_MQTT_USERNAME} was revoked` };
    await insertServiceAccount(db, { username: FLOWS_MQTT_USERNAME, name: '通知流程 Node-RED notification flows', secretHash: await hashSecret(mqttPassword), subscribe: ['platform/workitems/#'], publish: [], deny: [] });
  }
  const digest = tokenDigest(apiToken).toString('hex');
  if (await getUser(db, FLOWS_USER_ID)) await setUserToken(db, FLOWS_USER_ID, digest);
  else if (!(await insertUser(db, { id: FLOWS_USER_ID, name: '通知流程', role: 'notifier', gridIds: [], communityIds: [], department: null, tokenSha256: digest }))) {
    return { refused: `user ${FLOWS_USER_ID} was revoked` };
  }
  return { mqttUsername: FLOWS_MQTT_USERNAME, mqttPassword, apiToken };
}
