import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { haveBinary } from './services.ts';
import type { TestPlatform } from './platform.ts';

/** The console in a real browser: Debian's chromium, driven by playwright-core (no browser download). */
export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = () => haveBinary(CHROMIUM);
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' };
export const DESKTOP = { viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' };

// `npm run screenshots` keeps them in docs/screenshots (the README shows them); a test run, in a temp folder.
export const SHOTS = process.env.SCREENSHOTS === '1' ? path.join(import.meta.dirname, '..', '..', 'docs', 'screenshots') : mkdtempSync(path.join(os.tmpdir(), 'sps-shots-'));

export const launch = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });

/** Each person's token from the platform's `user-tokens.json` (written at first start from the site's people). */
export function userTokens(p: TestPlatform): Record<string, string> {
  return Object.fromEntries((JSON.parse(readFileSync(path.join(p.dataDir, 'user-tokens.json'), 'utf8')).users as { id: string; token: string }[]).map((u) => [u.id, u.token]));
}

/** A new browser context signed in as a person through the sign-in page (the session cookie). */
export async function signedIn(browser: Browser, p: TestPlatform, token: string, size: typeof PHONE | typeof DESKTOP = PHONE): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext(size);
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${p.ports.http}/`);
  await page.getByLabel('访问令牌').fill(token);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/sign-in'));
  return { context, page };
}

/** axe-core finds no serious or critical violation on the page as it stands. */
export async function expectAccessible(page: Page): Promise<void> {
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help} ${v.nodes.map((n) => n.target.join(' ')).slice(0, 4).join(' | ')}`)).toEqual([]);
}

/** The page as it stands, at phone and at desktop size (`name-phone.png`, `name-desktop.png`). */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  // A radio or checkbox just tapped finishes its animation first (Vant's take 0.2 s).
  await page.waitForTimeout(300);
  const size = page.viewportSize()!;
  const phone = size.width < 600;
  await page.screenshot({ path: path.join(SHOTS, `${name}-${phone ? 'phone' : 'desktop'}.png`), fullPage: true });
  await page.setViewportSize(phone ? DESKTOP.viewport : PHONE.viewport);
  // Charts and grids lay out again at the new width.
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(SHOTS, `${name}-${phone ? 'desktop' : 'phone'}.png`), fullPage: true });
  await page.setViewportSize(size);
}
