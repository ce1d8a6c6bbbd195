// Uploads from a real browser with the vendors' real browser libraries: Uppy
// (@uppy/core + @uppy/tus) to upgate's tus endpoint, and qiniu-js to its
// Qiniu resumable (v2) endpoint. Debian's Chromium runs headless under
// playwright-core; the page comes from this script's own loopback server, on
// another port than upgate's, so every request is cross-origin (CORS
// preflights included). page.js is bundled with esbuild into <work dir>.
//
// Usage: node browser/browser_uploads.mjs <work dir> <page port> <jobs JSON>
//   jobs: [{"kind": "uppy" | "qiniu", ...the page function's arguments}]
// Prints one JSON line: {"bundle_ms", "launch_ms", "jobs": [{"kind", "ms", "requests", "elsewhere", "result" | "error"}]}
// where requests counts the page's requests to upgate by method, and elsewhere
// lists those to any other place (none expected: no statistics reports, no
// host look-ups).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';

const [workDir, portText, jobsText] = process.argv.slice(2);
if (!workDir || !portText || !jobsText) {
  console.error('usage: node browser/browser_uploads.mjs <work dir> <page port> <jobs JSON>');
  process.exit(2);
}
const jobs = JSON.parse(jobsText);
const here = path.dirname(fileURLToPath(import.meta.url));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
setTimeout(() => {
  console.error('browser_uploads: timed out');
  process.exit(3);
}, 120_000).unref();

const bundleStarted = Date.now();
await esbuild.build({
  entryPoints: [path.join(here, 'page.js')],
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'chrome120',
  outfile: path.join(workDir, 'page.bundle.js'),
  logLevel: 'error',
});
const bundleMs = Date.now() - bundleStarted;
const files = {
  '/page.bundle.js': path.join(workDir, 'page.bundle.js'),
  '/qiniu.min.js': path.join(here, '..', 'node_modules', 'qiniu-js', 'dist', 'qiniu.min.js'),
};
const html = '<!doctype html><meta charset="utf-8"><title>upgate browser uploads</title>' +
  '<script src="/qiniu.min.js"></script><script src="/page.bundle.js"></script>';
const site = http.createServer((req, res) => {
  const file = files[req.url];
  if (req.url === '/favicon.ico') {
    res.writeHead(204).end();
  } else if (req.url === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html' }).end(html);
  } else if (file) {
    res.writeHead(200, { 'Content-Type': 'text/javascript' });
    fs.createReadStream(file).pipe(res);
  } else {
    res.writeHead(404).end();
  }
});
await new Promise((resolve, reject) => site.listen(Number(portText), '127.0.0.1', resolve).on('error', reject));
const pageUrl = `http://127.0.0.1:${portText}/`;

const started = Date.now();
const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
const launchMs = Date.now() - started;
const out = { bundle_ms: bundleMs, launch_ms: launchMs, jobs: [] };
try {
  const page = await browser.newPage();
  const logs = [];
  page.on('console', (m) => { if (m.type() === 'error') logs.push(m.text()); });
  page.on('pageerror', (e) => logs.push(String(e)));
  // The page's requests: to upgate counted by method, any to a third place listed.
  let requests = {};
  let elsewhere = [];
  const upgate = jobs.map((j) => (j.endpoint ? new URL(j.endpoint).origin : `http://${j.uphost}`));
  page.on('request', (r) => {
    const origin = new URL(r.url()).origin;
    if (upgate.includes(origin)) requests[r.method()] = (requests[r.method()] || 0) + 1;
    else if (`${origin}/` !== pageUrl) elsewhere.push(`${r.method()} ${r.url()}`);
  });
  await page.goto(pageUrl);
  for (const job of jobs) {
    const { kind, ...args } = job;
    const fn = { uppy: 'uppyUpload', qiniu: 'qiniuUpload' }[kind];
    requests = {};
    elsewhere = [];
    logs.length = 0;
    const t0 = Date.now();
    const entry = { kind };
    try {
      entry.result = await page.evaluate(([f, a]) => window[f](a), [fn, args]);
    } catch (e) {
      entry.error = String(e.message || e);
    }
    entry.ms = Date.now() - t0;
    entry.requests = requests;
    entry.elsewhere = elsewhere;
    if (logs.length) entry.console_errors = logs.slice(0, 5);
    out.jobs.push(entry);
  }
} finally {
  await browser.close();
  site.close();
}
console.log(JSON.stringify(out));
