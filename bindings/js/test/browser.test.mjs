// The same golden cases in headless Chromium, through the package's browser build (an ES
// module that loads its WebAssembly with fetch), driven over WebDriver at
// $LICET_TEST_WEBDRIVER_URL (scripts/test-bindings.sh starts a chromedriver).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const roots = {
  pkg: path.dirname(createRequire(import.meta.url).resolve('@licet/verifier/package.json')),
  test: here,
  vectors: path.join(here, '../../../test-vectors/vectors'),
};
const types = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
};

function serve() {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const [, root, ...rest] = url.pathname === '/' ? ['', 'test', 'browser.html'] : url.pathname.split('/');
    const base = roots[root];
    const file = base && path.resolve(base, ...rest.map(decodeURIComponent));
    if (!file || !file.startsWith(base + path.sep)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function wd(base, method, route, body) {
  const r = await fetch(`${base}${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  if (!r.ok) throw new Error(`WebDriver ${method} ${route}: ${JSON.stringify(json)}`);
  return json.value;
}

test('every golden case passes in headless Chromium', async () => {
  const driver = process.env.LICET_TEST_WEBDRIVER_URL;
  assert.ok(driver, 'LICET_TEST_WEBDRIVER_URL must name a running chromedriver (scripts/test-bindings.sh starts one)');
  const server = await serve();
  const page = `http://127.0.0.1:${server.address().port}/`;
  const session = await wd(driver, 'POST', '/session', {
    capabilities: {
      alwaysMatch: {
        browserName: 'chrome',
        'goog:chromeOptions': {
          binary: process.env.LICET_TEST_CHROMIUM ?? '/usr/bin/chromium',
          args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
            '--no-first-run', '--disable-background-networking', '--disable-component-update',
            '--disable-sync'],
        },
      },
    },
  });
  const s = `/session/${session.sessionId}`;
  try {
    await wd(driver, 'POST', `${s}/url`, { url: page });
    let result = null;
    for (let i = 0; i < 600 && result === null; i++) {
      result = await wd(driver, 'POST', `${s}/execute/sync`, { script: 'return window.__result ?? null', args: [] });
      if (result === null) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(result, 'the page finished');
    assert.equal(result.error, undefined, result.error);
    for (const f of result.failures) console.log(f);
    console.log(`golden vectors in Chromium: ${result.summary}`);
    assert.equal(result.failed, 0, result.failures.join('\n'));
    assert.equal(result.passed, result.total, 'every case of both files ran');
    assert.ok(result.total >= 69);
  } finally {
    await wd(driver, 'DELETE', s).catch(() => {});
    server.close();
  }
});
