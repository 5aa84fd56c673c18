// Every golden case of test-vectors/vectors (expected.json and offline.json), read at run
// time so that a new case needs no change here, checked through @licet/verifier as its reader
// would check it, in each of its forms. Shared by Node's runner and the browser page: `read`
// gives a file of the vectors' directory as bytes.

const text = (bytes) => new TextDecoder().decode(bytes);
const unhex = (h) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));

function outcome(f) {
  try {
    const v = f();
    return v === undefined ? 'valid' : v;
  } catch (e) {
    if (e && e.name === 'LicetError' && typeof e.code === 'string') return e.code;
    throw e;
  }
}

async function keysOf(read, table, names) {
  const pems = await Promise.all(names.map(async (n) => text(await read(table[n].spki_pem))));
  return pems.join('');
}

async function tokenCase(licet, read, table, kase, file) {
  const c = kase.context;
  const keys = await keysOf(read, table, kase.keys);
  const token = await read(file);
  const options = {
    product: c.product ?? undefined,
    anyProduct: c.product == null,
    fingerprint: c.fingerprint ?? undefined,
    hwidParts: c.hwid_parts ?? undefined,
    deviceKey: c.device_key ?? undefined,
    requireDeviceBinding: !!c.require_device_binding,
    domain: c.domain ?? undefined,
    entitlements: c.entitlements ?? [],
    leeway: c.leeway ?? 0,
    revocations: c.revocations ? await read(c.revocations) : undefined,
    lastSeenSequence: c.last_seen_sequence ?? undefined,
    requireFresh: !!c.require_fresh,
    now: c.now,
  };
  if (options.anyProduct) delete options.product;
  else delete options.anyProduct;
  return outcome(() => {
    const lic = licet.verify(token, keys, options);
    if (lic.verified !== true) return 'valid but not marked verified';
    const got = {
      license_id: lic.licenseId,
      product: lic.product,
      issued_at: lic.issuedAt,
      expires_at: lic.expiresAt,
      token_id: lic.tokenId,
      entitlements: lic.entitlements,
    };
    for (const [k, want] of Object.entries(kase.claims ?? {})) {
      if (JSON.stringify(got[k]) !== JSON.stringify(want)) {
        return `valid with another ${k}: ${JSON.stringify(got[k])}`;
      }
    }
    return undefined;
  });
}

async function offlineCase(licet, read, table, devices, kase, file) {
  const c = kase.context;
  const data = await read(file);
  if (kase.kind === 'request') {
    return outcome(() => {
      licet.verifyOfflineRequest(data, { window: c.window, now: c.now });
    });
  }
  if (kase.kind === 'response') {
    const keys = await keysOf(read, table, c.keys);
    const pending = await read(c.pending_request);
    return outcome(() => {
      const lic = licet.verifyOfflineResponse(data, keys, pending, {
        product: c.product,
        fingerprint: c.fingerprint,
        now: c.now,
      });
      // An installed token binds the pending request's device key.
      const req = licet.verifyOfflineRequest(pending);
      if (lic.deviceKey !== req.deviceKey) return 'valid without the pending device key';
      return undefined;
    });
  }
  return outcome(() => {
    const device = c.holder_device_key;
    const r = licet.readReceipt(data, {
      holder: c.holder,
      deviceKey: device ? unhex(devices[device]) : undefined,
    });
    if (!r.checked) return 'read but not checked';
    return undefined;
  });
}

/** Runs every case; returns the tally and one line per mismatch. */
export async function runGolden(licet, read) {
  const expected = JSON.parse(text(await read('expected.json')));
  const offline = JSON.parse(text(await read('offline.json')));
  let passed = 0;
  let failed = 0;
  const failures = [];
  const record = (name, got) => {
    const bad = Object.entries(got).filter(([, g]) => g.got !== g.want);
    if (bad.length === 0) passed += 1;
    else {
      failed += 1;
      for (const [form, g] of bad) failures.push(`FAIL ${name} (${form}): expected ${g.want}, got ${g.got}`);
    }
  };
  for (const kase of expected.cases) {
    const got = {};
    for (const [form, file] of [['binary', kase.token], ['text', kase.token_text]]) {
      got[form] = { want: kase.expected, got: await tokenCase(licet, read, expected.keys, kase, file) };
    }
    record(kase.name, got);
  }
  for (const kase of offline.cases) {
    const got = {};
    for (const [form, file] of [['binary', kase.file], ['armor', kase.armor]]) {
      got[form] = {
        want: kase.expected,
        got: await offlineCase(licet, read, expected.keys, offline.device_keys, kase, file),
      };
    }
    record(kase.name, got);
  }
  const total = expected.cases.length + offline.cases.length;
  return { passed, failed, total, failures, summary: `${passed} passed, ${failed} failed` };
}
