// The golden vectors through the package's ES-module entry in Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import * as licet from '@licet/verifier';
import { runGolden } from './cases.mjs';

const VECTORS = fileURLToPath(new URL('../../../test-vectors/vectors/', import.meta.url));

test('every golden case passes in Node', async () => {
  const r = await runGolden(licet, async (rel) => new Uint8Array(await readFile(VECTORS + rel)));
  for (const f of r.failures) console.log(f);
  console.log(`golden vectors: ${r.summary}`);
  assert.equal(r.failed, 0, r.failures.join('\n'));
  assert.equal(r.passed, r.total, 'every case of both files ran');
  // The set only grows: a runner that found fewer cases would hide a reader's bug.
  assert.ok(r.total >= 69, `the vector set shrank to ${r.total}`);
});
