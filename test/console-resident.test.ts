import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsoleBuilt } from '../api/console.ts';
import { startTestPlatform, TINY_IMAGES, type TestPlatform } from './helpers/platform.ts';
import { DESKTOP, expectAccessible, haveChromium, launch, PHONE, screenshots, signedIn, userTokens } from './helpers/browser.ts';

/**
 * The console in a real browser: a resident on a phone-sized page files 一键报修 with a photo; the
 * property manager accepts and dispatches it on their page, the property staff start and resolve
 * it on theirs; the resident sees each step appear without reloading and rates it 5★.
 */
const SITE = path.join(import.meta.dirname, 'fixtures', 'notify-site.json');

describe.runIf(haveChromium())('the console, resident and property pages', () => {
  let p: TestPlatform;
  let browser: Browser;
  let page: Page;
  let tokens: Record<string, string>;

  beforeAll(async () => {
    ensureConsoleBuilt();
    p = await startTestPlatform({ SITE_FILE: SITE });
    tokens = userTokens(p);
    browser = await launch();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await p?.dispose();
  });

  const status = (id: string) => page.locator(`[data-item="${id}"] .van-cell__value`).first();

  it('files a ticket with a photo in one tap, follows each step the property side takes on its pages, and rates it 5★', async () => {
    const base = `http://127.0.0.1:${p.ports.http}`;
    ({ page } = await signedIn(browser, p, tokens['res-1']!));
    await page.getByRole('tab', { name: '一键报修' }).waitFor();

    await page.getByRole('radio', { name: '水电维修' }).click();
    await page.getByLabel('单元').fill('2');
    await page.getByLabel('房间号').fill('301');
    await page.getByLabel('问题描述').fill('厨房水管漏水，地面有积水');
    await page.locator('input[type=file]').setInputFiles({ name: 'leak.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(TINY_IMAGES.jpeg) });
    await page.locator('img.thumb[data-status=done]').waitFor();
    await screenshots(page, 'resident-file');
    await expectAccessible(page);
    await page.getByRole('button', { name: '提交报修' }).click();

    await page.getByRole('status').waitFor();
    const id = (await page.getByRole('status').textContent())!.match(/TK-[\w-]+/)![0];
    const filed = (await p.api('GET', `/api/v1/tickets/${id}`)).body;
    expect(filed).toMatchObject({ reporterId: 'res-1', buildingId: 'b-l1', category: 'plumbing' });
    expect(filed.photos).toHaveLength(1);
    await expect.poll(() => status(id).textContent()).toBe('信息收集');
    const page0 = page.url();

    // The property manager, at the office: the tickets board, then the ticket's page.
    const pm = await signedIn(browser, p, tokens['pm-l']!, DESKTOP);
    await pm.page.locator(`a[data-item="${id}"]`).click();
    await pm.page.getByRole('button', { name: '受理', exact: true }).click();
    await expect.poll(() => status(id).textContent(), { timeout: 5000 }).toBe('立案受理');
    await pm.page.getByRole('button', { name: '派单' }).click();
    await pm.page.getByRole('radio', { name: /梨园维修员/ }).click();
    await pm.page.locator('form').getByRole('button', { name: '派单' }).click();
    await expect.poll(() => status(id).textContent(), { timeout: 5000 }).toBe('分流转办');
    await screenshots(pm.page, 'ticket-item');
    await pm.page.goto(`${base}/board?kind=tickets`);
    await pm.page.locator(`a[data-item="${id}"]`).waitFor();
    await screenshots(pm.page, 'board-tickets');
    await pm.context.close();

    // The property staff, on their phone: their tickets, the ticket, start, resolve with a note.
    const staff = await signedIn(browser, p, tokens['staff-l']!);
    await staff.page.locator(`a[data-item="${id}"]`).click();
    await staff.page.getByRole('button', { name: '开始处置' }).click();
    await expect.poll(() => status(id).textContent(), { timeout: 5000 }).toBe('问题处置');
    await staff.page.getByRole('button', { name: '处置完成' }).click();
    await staff.page.getByLabel('说明').fill('已更换水管');
    await staff.page.locator('form').getByRole('button', { name: '处置完成' }).click();
    await expect.poll(() => status(id).textContent(), { timeout: 5000 }).toBe('结果反馈');
    await staff.page.locator('[data-action="resolve"]').getByText('已更换水管').waitFor();
    await expectAccessible(staff.page);
    await staff.context.close();
    expect(page.url()).toBe(page0);
    await screenshots(page, 'resident-progress');

    await page.getByRole('button', { name: '提交评价' }).click();
    await expect.poll(async () => (await p.api('GET', `/api/v1/tickets/${id}`)).body.rating?.overall).toBe(5);
    await page.locator(`[data-item="${id}"]`).getByText('已评价').waitFor();
    const timeline = (await p.api('GET', `/api/v1/tickets/${id}`)).body.timeline.map((e: { action: string; actorId: string }) => `${e.action}:${e.actorId}`);
    expect(timeline).toEqual(['collect:res-1', 'accept:pm-l', 'dispatch:pm-l', 'start:staff-l', 'resolve:staff-l', 'rate:res-1']);
  }, 90_000);

  it('is whole in its build: no script, style or font from another host', () => {
    const dist = path.join(import.meta.dirname, '..', 'console', 'dist');
    const files = [path.join(dist, 'index.html'), ...readdirSync(path.join(dist, 'assets')).map((f) => path.join(dist, 'assets', f))];
    const external = files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/(?:src|href)=["']?(?:https?:)?\/\/[^"'\s>]+|url\((?:https?:)?\/\/[^)]+\)|@import\s+["']?(?:https?:)?\/\//g)].map((m) => `${path.basename(f)}: ${m[0]}`));
    expect(external).toEqual([]);
  });

  it('switches to English by the button, with the vocabulary\'s words', async () => {
    await page.goto(`http://127.0.0.1:${p.ports.http}/resident`);
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('tab', { name: 'Report a repair' }).click();
    await page.getByRole('radio', { name: 'Plumbing' }).waitFor();
    await page.getByRole('button', { name: '中文' }).click();
    await page.getByRole('radio', { name: '水电维修' }).waitFor();
  });

  it('asks a signed-out visitor for the token first, and brings them to the page they were sent to', async () => {
    const visitor = await (await browser.newContext(PHONE)).newPage();
    const filed = (await p.api('GET', '/api/v1/tickets?limit=1')).body.items[0];
    await visitor.goto(`http://127.0.0.1:${p.ports.http}/tickets/${filed.id}`);
    await visitor.getByLabel('访问令牌').waitFor();
    await screenshots(visitor, 'sign-in');
    await expectAccessible(visitor);
    await visitor.getByLabel('访问令牌').fill(tokens['pm-l']!);
    await visitor.getByRole('button', { name: '登录' }).click();
    await visitor.locator(`article[data-item="${filed.id}"]`).waitFor();
    await visitor.context().close();
  });
});
