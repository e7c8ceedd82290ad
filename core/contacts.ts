import { z } from 'zod';
import { CHANNELS } from './domain.ts';

/**
 * How a person is reached, as the site file and the API take it (one schema). Values are checked
 * against what the channels accept: a mobile number in E.164 digits (DingTalk's `atMobiles`, WeCom's
 * `mentioned_mobile_list`, an SMS gateway), WeCom and DingTalk user ids as their admin consoles
 * issue them.
 */
export const contactsSchema = z.object({
  phone: z.string().regex(/^\+?[0-9]{5,15}$/, { error: '手机号应为 5 至 15 位数字，可带 + 前缀' }).nullable().optional().describe('mobile number, for SMS and @-mentions by phone'),
  wecomUserId: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, { error: '企业微信账号应为至多 64 位字母、数字或 _ . @ -' }).nullable().optional().describe('企业微信 userid, @-mentioned in the group robot\'s messages'),
  dingtalkUserId: z.string().regex(/^[A-Za-z0-9_.@$-]{1,64}$/, { error: '钉钉 userId 应为至多 64 位字母、数字或 _ . @ $ -' }).nullable().optional().describe('钉钉 userId, @-mentioned in the robot\'s messages'),
  channels: z.array(z.enum(CHANNELS)).max(CHANNELS.length).refine((a) => new Set(a).size === a.length, { error: '每个渠道只能出现一次' }).nullable().optional().describe('the channels this person wants (null or omitted: every one they have an address on)'),
  notifyProgress: z.boolean().optional().describe('residents: be told of your own items\' progress (default true)'),
});
export type ContactsInput = z.infer<typeof contactsSchema>;
