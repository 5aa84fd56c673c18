// The package's contract through `require`: the forms it takes, the plain objects it gives
// back, and the errors it throws (each an Error with a stable `code`).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const licet = require('@licet/verifier');

const VECTORS = path.join(__dirname, '../../../test-vectors/vectors');
const read = (rel) => fs.readFileSync(path.join(VECTORS, rel));
const expected = JSON.parse(read('expected.json'));
const typical = expected.cases.find((c) => c.name === 'valid-ed25519');
const ctx = typical.context;
const PEM_A = read('keys/ed25519-a.pem').toString();
const PEM_B = read('keys/ed25519-b.pem').toString();
const TOKEN = read(typical.token);
const TEXT = read(typical.token_text).toString();

const opts = (extra = {}) => ({
  product: ctx.product,
  fingerprint: ctx.fingerprint,
  domain: ctx.domain,
  entitlements: ctx.entitlements,
  now: ctx.now,
  ...extra,
});

function refusal(f) {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof Error, 'an Error');
    assert.equal(e.name, 'LicetError');
    assert.equal(typeof e.code, 'string');
    assert.ok(e.message.length > 0);
    return e.code;
  }
  assert.fail('did not throw');
}

test('a token in any form gives a plain object of typed claims', () => {
  const armored = `-----BEGIN LICET LICENSE-----\n${TEXT.trim()}\n-----END LICET LICENSE-----\n`;
  const forms = [TOKEN, new Uint8Array(TOKEN), TOKEN.buffer.slice(TOKEN.byteOffset, TOKEN.byteOffset + TOKEN.length), TEXT, armored];
  for (const form of forms) {
    const lic = licet.verify(form, PEM_A, opts());
    assert.equal(Object.getPrototypeOf(lic), Object.prototype);
    assert.equal(lic.licenseId, 'LIC-0001');
    assert.equal(lic.product, 'acme-pro');
    assert.equal(typeof lic.issuedAt, 'number');
    assert.equal(lic.expiresAt, typical.claims.expires_at);
    assert.deepEqual(lic.entitlements, ['export', 'pro', 'sso']);
    assert.equal(lic.tokenId, typical.claims.token_id);
    assert.equal(lic.kid, expected.keys['ed25519-a'].kid);
    assert.equal(lic.algorithm, 'EdDSA');
    assert.equal(lic.verified, true);
    assert.equal(lic.subject === null || typeof lic.subject === 'string', true);
    assert.equal(typeof lic.metadata, 'object');
    // Serialisable as it is.
    assert.deepEqual(JSON.parse(JSON.stringify(lic)), lic);
  }
});

test('keys as PEM (several blocks), raw Ed25519, SPKI DER, or a list', () => {
  const raw = Buffer.from(expected.keys['ed25519-a'].raw.x, 'hex');
  const der = crypto.createPublicKey(PEM_A).export({ type: 'spki', format: 'der' });
  for (const keys of [PEM_B + '\r\n' + PEM_A, raw, new Uint8Array(der), [PEM_B, raw]]) {
    assert.equal(licet.verify(TOKEN, keys, opts()).licenseId, 'LIC-0001');
  }
  assert.equal(refusal(() => licet.verify(TOKEN, PEM_B, opts())), 'unknown_key');
  assert.equal(refusal(() => licet.verify(TOKEN, 'no key here', opts())), 'invalid_key');
  assert.equal(refusal(() => licet.verify(TOKEN, [], opts())), 'invalid_argument');
  assert.equal(refusal(() => licet.verify(TOKEN, 42, opts())), 'invalid_argument');
});

test('refusals carry the verifier\'s code', () => {
  const cases = {
    wrong_product: { product: 'acme-lite' },
    expired: { now: typical.claims.expires_at },
    hwid_mismatch: { fingerprint: '0'.repeat(64) },
    domain_mismatch: { domain: 'evil.example' },
    missing_entitlement: { entitlements: ['enterprise'] },
  };
  for (const [code, extra] of Object.entries(cases)) {
    assert.equal(refusal(() => licet.verify(TOKEN, PEM_A, opts(extra))), code);
  }
  const bad = Buffer.from(TOKEN);
  bad[bad.length - 1] ^= 1;
  assert.equal(refusal(() => licet.verify(bad, PEM_A, opts())), 'bad_signature');
  assert.equal(refusal(() => licet.verify('not a token', PEM_A, opts())), 'bad_encoding');
});

test('the caller\'s mistakes are invalid_argument, and a misspelt option is refused', () => {
  const mistakes = [
    () => licet.verify(TOKEN, PEM_A),
    () => licet.verify(TOKEN, PEM_A, { now: ctx.now }),
    () => licet.verify(TOKEN, PEM_A, opts({ anyProduct: true })),
    () => licet.verify(TOKEN, PEM_A, opts({ entitlement: ['pro'] })),
    () => licet.verify(TOKEN, PEM_A, opts({ now: 'yesterday' })),
    () => licet.verify(TOKEN, PEM_A, opts({ now: NaN })),
    () => licet.verify(TOKEN, PEM_A, opts({ deviceKey: 'abcd' })),
    () => licet.verify(TOKEN, PEM_A, opts({ hwidParts: ['zz'] })),
    () => licet.verify(12345, PEM_A, opts()),
    () => licet.readReceipt(read('offline/receipt-valid.cbor'), { holder: 'someone' }),
  ];
  for (const m of mistakes) assert.equal(refusal(m), 'invalid_argument', m.toString());
});

test('now as a Date, or the clock', () => {
  assert.equal(licet.verify(TOKEN, PEM_A, opts({ now: new Date(ctx.now * 1000) })).licenseId, 'LIC-0001');
  const early = read('tokens/not-yet-valid.cbor');
  const nbf = licet.inspect(early).notBefore;
  assert.ok(nbf !== null && Date.now() / 1000 < nbf);
  assert.equal(refusal(() => licet.verify(early, PEM_A, opts({ now: undefined }))), 'not_yet_valid');
  assert.equal(licet.verify(early, PEM_A, opts({ now: nbf })).licenseId, 'LIC-0001');
  const any = licet.verify(TOKEN, PEM_A, { anyProduct: true, fingerprint: ctx.fingerprint, domain: ctx.domain, now: ctx.now });
  assert.equal(any.product, 'acme-pro');
});

test('inspect reads without verifying', () => {
  const bad = Buffer.from(TOKEN);
  bad[bad.length - 1] ^= 1;
  const lic = licet.inspect(bad);
  assert.equal(lic.verified, false);
  assert.equal(lic.licenseId, 'LIC-0001');
});

test('revocation lists', () => {
  const kase = expected.cases.find((c) => c.expected === 'revoked');
  const keys = kase.keys.map((n) => read(expected.keys[n].spki_pem).toString());
  const data = read(kase.context.revocations);
  const list = licet.RevocationList.verify(data, keys);
  assert.ok(list.sequence >= 1 && list.tokenCount + list.licenseCount >= 1);
  assert.ok(list.issuedAt < list.nextUpdate);
  assert.equal(list.isStale(list.nextUpdate), true);
  assert.equal(list.isStale(list.issuedAt), false);
  const token = read(kase.token);
  const claims = licet.inspect(token);
  assert.equal(list.containsToken(claims.tokenId) || list.containsLicense(claims.licenseId), true);
  assert.equal(list.containsToken('00'.repeat(16)), false);
  assert.equal(refusal(() => list.containsToken('00')), 'invalid_argument');
  assert.equal(
    refusal(() => licet.RevocationList.verify(data, keys, { lastSeenSequence: list.sequence + 1 })),
    'revocation_rollback',
  );
  list.free();
});

test('a device\'s proof of possession', () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'jwk' }).x;
  const key = Buffer.from(raw, 'base64url');
  const challenge = crypto.randomBytes(32);
  const signed = Buffer.concat([Buffer.from('licet/device-pop/v1\0'), challenge]);
  const signature = crypto.sign(null, signed, privateKey);
  assert.equal(licet.verifyPossession(key, challenge, signature), undefined);
  assert.equal(licet.verifyPossession(key.toString('hex'), challenge, signature.toString('hex')), undefined);
  const other = crypto.randomBytes(32);
  assert.equal(refusal(() => licet.verifyPossession(key, other, signature)), 'device_key_mismatch');
});

test('the package ships its types and both builds', () => {
  const root = path.dirname(require.resolve('@licet/verifier/package.json'));
  const types = fs.readFileSync(path.join(root, 'licet.d.ts'), 'utf8');
  for (const name of Object.keys(licet)) {
    if (name.startsWith('__') || name === 'initSync' || name === 'default') continue;
    assert.match(types, new RegExp(`\\b${name}\\b`), name);
  }
  assert.equal(licet.hasRsa(), true);
  assert.ok(fs.existsSync(path.join(root, 'web/index.js')));
});
