// Drives the demo page in Debian's Chromium (headless, through playwright-core; no browser is
// downloaded) and reports what the page computed, for tests/test_web_demo.py and
// benchmarks/web_latency.py.
//
//   node web_demo/e2e/run_e2e.mjs PLAN.json
//
// PLAN: {url, screenshot?, report?, timeoutMs?, chromium?, viewport?: [w, h], steps: [...]} with steps
//   {type: 'click', x, y, background?}   a click at photo pixel (x, y) (right button if background)
//   {type: 'drag', from: [x, y], to: [x, y]}   a box dragged between two photo pixels
//   {type: 'pick-bundle', files: [paths]}       files given to the page's bundle picker
//   {type: 'everything', options?, keepMasks?}  tinysam.runEverything(options), with the RLE of
//                                               its first keepMasks masks
//   {type: 'benchmark', runs?, warmup?}         tinysam.benchmark(...)
//   {type: 'rgb-digest'}                        SHA-256 of the RGB bytes the page encodes
//   {type: 'state'}                             tinysam.state, .error and .bundle
// Writes one JSON object to PLAN.report (else prints it): {state, error, runtime, bundle, image,
// timings, steps: [...], console, pageErrors}. Exits 1 when the page did not come up or a step
// failed (the JSON's `failure` says why).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const timeout = plan.timeoutMs ?? 120000;
const report = { steps: [], console: [], pageErrors: [] };
const profile = mkdtempSync(join(tmpdir(), 'tinysam-chromium-'));
let context;
let failed = false;

/** Client coordinates of photo pixel (x, y): the overlay canvas is the photo, scaled. */
async function clientPoint(page, x, y) {
  return page.evaluate(
    ([px, py]) => {
      const rect = document.getElementById('overlay').getBoundingClientRect();
      const { width, height } = window.tinysam.image;
      return [rect.left + (px * rect.width) / width, rect.top + (py * rect.height) / height];
    },
    [x, y],
  );
}

async function afterPrediction(page, before) {
  await page.waitForFunction((n) => window.tinysam.predictions > n || window.tinysam.error !== null, before, { timeout });
  return page.evaluate(() => ({ last: window.tinysam.last, error: window.tinysam.error }));
}

async function runStep(page, step) {
  const before = await page.evaluate(() => window.tinysam.predictions);
  if (step.type === 'click') {
    const [cx, cy] = await clientPoint(page, step.x, step.y);
    await page.mouse.click(cx, cy, { button: step.background ? 'right' : 'left' });
    return afterPrediction(page, before);
  }
  if (step.type === 'drag') {
    const [x0, y0] = await clientPoint(page, ...step.from);
    const [x1, y1] = await clientPoint(page, ...step.to);
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    await page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, { steps: 4 });
    await page.mouse.move(x1, y1, { steps: 4 });
    await page.mouse.up();
    return afterPrediction(page, before);
  }
  if (step.type === 'pick-bundle') {
    const bundle = await page.evaluate(() => {
      window.tinysam.error = null;
      return JSON.stringify(window.tinysam.bundle);
    });
    await page.setInputFiles('#bundle-files', step.files);
    await page.waitForFunction(
      (old) => window.tinysam.error !== null || (JSON.stringify(window.tinysam.bundle) !== old && window.tinysam.state === 'ready'),
      bundle,
      { timeout },
    );
    return page.evaluate(() => {
      const banner = document.getElementById('error');
      return { error: window.tinysam.error, bannerText: banner.textContent, bannerVisible: !banner.hidden && banner.offsetHeight > 0 };
    });
  }
  if (step.type === 'everything') {
    // masks (RLE) of the first `keepMasks` records only: the rest would make the report huge
    return page.evaluate(
      async ([options, keep]) => {
        const summary = await window.tinysam.runEverything(options);
        return { ...summary, records: summary.records.map(({ rle, ...rest }, i) => (i < keep ? { rle, ...rest } : rest)) };
      },
      [step.options ?? {}, step.keepMasks ?? 0],
    );
  }
  if (step.type === 'benchmark') {
    return page.evaluate((options) => window.tinysam.benchmark(options), { runs: step.runs ?? 5, warmup: step.warmup ?? 1 });
  }
  if (step.type === 'state') {
    return page.evaluate(() => ({ state: window.tinysam.state, error: window.tinysam.error, bundle: window.tinysam.bundle }));
  }
  if (step.type === 'rgb-digest') {
    return page.evaluate(() => window.tinysam.rgbDigest());
  }
  throw new Error(`unknown step type ${step.type}`);
}

try {
  const [width, height] = plan.viewport ?? [1280, 900];
  context = await chromium.launchPersistentContext(profile, {
    executablePath: plan.chromium ?? process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width, height },
    timeout,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeout);
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') report.console.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => report.pageErrors.push(String(error)));
  await page.goto(plan.url, { waitUntil: 'load' });
  await page.waitForFunction(() => window.tinysam && window.tinysam.state !== 'loading', null, { timeout });
  Object.assign(
    report,
    await page.evaluate(() => {
      const t = window.tinysam;
      return { state: t.state, error: t.error, runtime: t.runtime, bundle: t.bundle, image: t.image, timings: t.timings };
    }),
  );
  if (report.state !== 'ready') throw new Error(`the page did not become ready: ${report.state} ${report.error ?? ''}`);
  for (const step of plan.steps ?? []) {
    const t0 = Date.now();
    const result = await runStep(page, step);
    report.steps.push({ type: step.type, seconds: (Date.now() - t0) / 1000, result });
  }
  report.timings = await page.evaluate(() => window.tinysam.timings);
  if (plan.screenshot) {
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    await page.screenshot({ path: plan.screenshot, fullPage: true });
  }
} catch (error) {
  failed = true;
  report.failure = String(error?.stack ?? error);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
const text = `${JSON.stringify(report)}\n`;
if (plan.report) writeFileSync(plan.report, text);
// exit once the pipe has taken everything (a large report is written in several chunks)
process.stdout.write(plan.report ? `report: ${plan.report}\n` : text, () => process.exit(failed ? 1 : 0));
