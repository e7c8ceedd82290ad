import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsoleBuilt } from '../api/console.ts';
import { startTestPlatform, TINY_IMAGES, type TestPlatform } from './helpers/platform.ts';
import { haveBinary } from './helpers/services.ts';

/**
 * The console in a real browser (Debian's chromium driven by playwright-core): a resident on a
 * phone-sized page files 一键报修 with a photo, sees each step appear as the property side moves
 * the ticket (no reload), and rates it 5★.
 */
const CHROMIUM = '/usr/bin/chromium';
const SITE = path.join(import.meta.dirname, 'fixtures', 'notify-site.json');
// `npm run screenshots` keeps them in docs/screenshots (the README shows them); a test run, in a temp folder.
const SHOTS = process.env.SCREENSHOTS === '1' ? path.join(import.meta.dirname, '..', 'docs', 'screenshots') : mkdtempSync(path.join(os.tmpdir(), 'sps-shots-'));

describe.runIf(haveBinary(CHROMIUM))('the console, resident pages', () => {
  let p: TestPlatform;
  let browser: Browser;
  let page: Page;
  let tokens: Record<string, string>;

  beforeAll(async () => {
    ensureConsoleBuilt();
    p = await startTestPlatform({ SITE_FILE: SITE });
    tokens = Object.fromEntries((JSON.parse(readFileSync(path.join(p.dataDir, 'user-tokens.json'), 'utf8')).users as { id: string; token: string }[]).map((u) => [u.id, u.token]));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' });
    page = await context.newPage();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await p?.dispose();
  });

  const act = (who: string, id: string, action: string, extra: Record<string, unknown> = {}) => p.api('POST', `/api/v1/tickets/${id}/actions`, { action, ...extra }, tokens[who]);
  const status = (id: string) => page.locator(`[data-item="${id}"] .van-cell__value`).first();

  it('files a ticket with a photo in one tap, follows it step by step without reloading, and rates it 5★', async () => {
    await page.goto(`http://127.0.0.1:${p.ports.http}/`);
    await page.getByLabel('访问令牌').fill(tokens['res-1']!);
    await page.getByRole('button', { name: '登录' }).click();
    await page.getByRole('tab', { name: '一键报修' }).waitFor();
    mkdirSync(SHOTS, { recursive: true });

    await page.getByRole('radio', { name: '水电维修' }).click();
    await page.getByLabel('单元').fill('2');
    await page.getByLabel('房间号').fill('301');
    await page.getByLabel('问题描述').fill('厨房水管漏水，地面有积水');
    await page.locator('input[type=file]').setInputFiles({ name: 'leak.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(TINY_IMAGES.jpeg) });
    await page.locator('img.thumb[data-status=done]').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'resident-file-phone.png'), fullPage: true });
    const axe = await new AxeBuilder({ page }).analyze();
    expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help} ${v.nodes.map((n) => n.target.join(' ')).slice(0, 4).join(' | ')}`)).toEqual([]);
    await page.getByRole('button', { name: '提交报修' }).click();

    await page.getByRole('status').waitFor();
    const id = (await page.getByRole('status').textContent())!.match(/TK-[\w-]+/)![0];
    const filed = (await p.api('GET', `/api/v1/tickets/${id}`)).body;
    expect(filed).toMatchObject({ reporterId: 'res-1', buildingId: 'b-l1', category: 'plumbing' });
    expect(filed.photos).toHaveLength(1);
    await expect.poll(() => status(id).textContent()).toBe('信息收集');

    // The property side moves it; each step shows on the resident's page as it happens.
    const page0 = page.url();
    for (const [who, action, extra, shows] of [
      ['pm-l', 'accept', {}, '立案受理'],
      ['pm-l', 'dispatch', { assigneeId: 'staff-l' }, '分流转办'],
      ['staff-l', 'start', {}, '问题处置'],
      ['staff-l', 'resolve', { note: '已更换水管' }, '结果反馈'],
    ] as const) {
      expect((await act(who, id, action, extra)).status).toBe(200);
      await expect.poll(() => status(id).textContent(), { timeout: 5000 }).toBe(shows);
    }
    expect(page.url()).toBe(page0);
    await page.screenshot({ path: path.join(SHOTS, 'resident-progress-phone.png'), fullPage: true });

    await page.getByRole('button', { name: '提交评价' }).click();
    await expect.poll(async () => (await p.api('GET', `/api/v1/tickets/${id}`)).body.rating?.overall).toBe(5);
    await page.locator(`[data-item="${id}"]`).getByText('已评价').waitFor();
    // The same pages on a desktop (a property office's screen).
    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
    await desk.context().addCookies(await page.context().cookies());
    await desk.goto(`http://127.0.0.1:${p.ports.http}/`);
    await desk.getByRole('tab', { name: '我的报修' }).click();
    await desk.locator(`[data-item="${id}"]`).getByText('已评价').waitFor();
    await desk.screenshot({ path: path.join(SHOTS, 'resident-progress-desktop.png'), fullPage: true });
    await desk.getByRole('tab', { name: '一键报修' }).click();
    await desk.screenshot({ path: path.join(SHOTS, 'resident-file-desktop.png'), fullPage: true });
    await desk.close();
  }, 60_000);

  it('is whole in its build: no script, style or font from another host', () => {
    const dist = path.join(import.meta.dirname, '..', 'console', 'dist');
    const files = [path.join(dist, 'index.html'), ...readdirSync(path.join(dist, 'assets')).map((f) => path.join(dist, 'assets', f))];
    const external = files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/(?:src|href)=["']?(?:https?:)?\/\/[^"'\s>]+|url\((?:https?:)?\/\/[^)]+\)|@import\s+["']?(?:https?:)?\/\//g)].map((m) => `${path.basename(f)}: ${m[0]}`));
    expect(external).toEqual([]);
  });

  it('switches to English by the button, with the vocabulary\'s words', async () => {
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('tab', { name: 'Report a repair' }).waitFor();
    await page.getByRole('tab', { name: 'Report a repair' }).click();
    await page.getByRole('radio', { name: 'Plumbing' }).waitFor();
    await page.getByRole('button', { name: '中文' }).click();
  });
});
