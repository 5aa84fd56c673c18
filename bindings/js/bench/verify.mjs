// The JavaScript side of the bindings' benchmark (scripts/bench-bindings.sh): the typical
// golden token verified N times through verify() in Node, as an application verifies it (the
// pinned key passed with each call). Prints nanoseconds per verify.
import { readFileSync } from 'node:fs';
import { verify } from '@licet/verifier';

const n = Number(process.argv[2] ?? 20000);
const vectors = new URL('../../../test-vectors/vectors/', import.meta.url);
const token = new Uint8Array(readFileSync(new URL('tokens/valid-ed25519.cbor', vectors)));
const pem = readFileSync(new URL('keys/ed25519-a.pem', vectors), 'utf8');
const options = {
  product: 'acme-pro',
  fingerprint: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  domain: 'example.com',
  entitlements: ['pro'],
  now: 1800000000,
};
const run = () => verify(token, pem, options).issuedAt;
for (let i = 0; i < n / 10; i++) run();
const start = process.hrtime.bigint();
for (let i = 0; i < n; i++) run();
console.log(Math.round(Number(process.hrtime.bigint() - start) / n));
