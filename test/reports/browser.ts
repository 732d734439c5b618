/**
 * Opens a report page in headless Chromium (Debian's `chromium`, driven by puppeteer-core): waits for
 * every chart's `vegaEmbed(...).then(view.runAsync())`, collects console errors and page errors, counts
 * rendered SVGs per chart element, and saves a full-page screenshot.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM =
  ['/usr/bin/chromium', '/usr/lib/chromium/chromium'].find((p) => existsSync(p)) ?? null;

export interface PageCheck {
  errors: string[];
  charts: { id: string; svgs: number; height: number }[];
  chartsDone: boolean;
}

export async function checkPage(htmlFile: string, screenshot: string, fullPage = true): Promise<PageCheck> {
  if (!CHROMIUM) throw new Error('no chromium');
  const puppeteer = (await import('puppeteer-core')).default;
  // Chromium writes crash reports under $XDG_CONFIG_HOME even with a temporary profile.
  const config = mkdtempSync(join(tmpdir(), 'pefuse-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'],
    env: { ...process.env, XDG_CONFIG_HOME: config, HOME: config },
    userDataDir: join(config, 'profile'),
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith('file:') && !u.startsWith('data:')) errors.push(`network request: ${u}`);
    });
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(pathToFileURL(htmlFile).href, { waitUntil: 'load' });
    await page.waitForFunction('window.__chartsDone === true', { timeout: 30_000 });
    const charts = (await page.evaluate(`[...document.querySelectorAll('.chart')].map((el) => ({
      id: el.id, svgs: el.querySelectorAll('svg').length, height: el.getBoundingClientRect().height }))`)) as PageCheck['charts'];
    await page.screenshot({ path: screenshot as `${string}.png`, fullPage });
    return { errors, charts, chartsDone: true };
  } finally {
    await browser.close();
    rmSync(config, { recursive: true, force: true });
  }
}
