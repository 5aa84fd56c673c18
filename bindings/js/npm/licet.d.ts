/**
 * Verify licet license tokens offline: in Node (`require` or `import`), in Electron and in
 * browsers (an ES module that loads its WebAssembly before it resolves).
 *
 * Every function throws a {@link LicetError} when it refuses: its `code` is stable.
 */

/** A token, list or artefact: binary, base64url text, or its armored text. */
export type Data = Uint8Array | ArrayBuffer | string;

/**
 * The vendor's public keys: a PEM text (any number of `PUBLIC KEY` blocks), a raw Ed25519 key
 * (32 bytes), a DER SubjectPublicKeyInfo, or an array of those.
 */
export type Keys = string | Uint8Array | Array<string | Uint8Array>;

/** Unix seconds, a Date, or undefined for the clock. */
export type Time = number | Date | undefined;

/** What a token is checked against. Unknown option names are refused (`invalid_argument`). */
export interface VerifyOptions {
  /** The product the application is; required unless `anyProduct` is true. */
  product?: string;
  /** Accept a token of any product: only for tools that read any licet token. */
  anyProduct?: boolean;
  /** This machine's fingerprint (64 hex characters, as licet's client computes it). */
  fingerprint?: string;
  /** This machine's hardware parts (8 bytes each, or 16 hex characters). */
  hwidParts?: Array<Uint8Array | string>;
  /** The device key (32 bytes, or 64 hex characters) this machine holds. */
  deviceKey?: Uint8Array | string;
  /** Refuse a token that binds no device key. */
  requireDeviceBinding?: boolean;
  /** The domain the application runs on. */
  domain?: string;
  /** Entitlements the application needs (`missing_entitlement` otherwise). */
  entitlements?: string[];
  /** Seconds of clock skew allowed around `nbf` and `exp`. */
  leeway?: number;
  /** A signed revocation list (its data), verified with the same keys. */
  revocations?: Data;
  /** The highest list sequence seen before: an older list is refused. */
  lastSeenSequence?: number;
  /** Refuse when the revocation list is past its next update (`stale_revocations`). */
  requireFresh?: boolean;
  /** The time to check at (default: the clock). */
  now?: Time;
}

/** The claims of a token. Times are numbers of unix seconds; ids and keys lowercase hex. */
export interface License {
  licenseId: string;
  product: string;
  issuer: string | null;
  subject: string | null;
  audience: string | null;
  issuedAt: number;
  expiresAt: number | null;
  notBefore: number | null;
  refreshAfter: number | null;
  offlineGrace: number | null;
  seats: number | null;
  kind: string | null;
  domains: string[];
  entitlements: string[];
  metadata: Record<string, string | number | boolean>;
  tokenId: string;
  kid: string;
  algorithm: string;
  hwid: string | null;
  hwidParts: string[];
  hwidThreshold: number | null;
  deviceKey: string | null;
  deviceKeyRequired: boolean;
  /** False only for {@link inspect}'s result. */
  verified: boolean;
  revocationsStale: boolean;
}

/** An `Error` with a stable machine code. */
export interface LicetError extends Error {
  name: 'LicetError';
  /** The verifier's code (`expired`, `wrong_product`, `bad_signature`, …) or `invalid_argument`. */
  code: string;
}

/** Verifies a token with `keys` in the context `options` describes. */
export function verify(token: Data, keys: Keys, options: VerifyOptions): License;

/** Reads a token's claims without verifying it (`verified` is false). Never for decisions. */
export function inspect(token: Data): License;

/** A revocation list whose signature verified. */
export class RevocationList {
  private constructor();
  static verify(data: Data, keys: Keys, options?: { lastSeenSequence?: number }): RevocationList;
  readonly sequence: number;
  readonly issuedAt: number;
  readonly nextUpdate: number;
  readonly tokenCount: number;
  readonly licenseCount: number;
  isStale(now?: Time): boolean;
  containsToken(tokenId: Uint8Array | string): boolean;
  containsLicense(licenseId: string): boolean;
  /** Frees the list's memory now rather than at garbage collection. */
  free(): void;
}

/** An offline activation request, as the vendor's desk reads it. */
export interface OfflineRequest {
  product: string;
  licenseKey: string;
  fingerprint: string;
  parts: string[];
  deviceKey: string;
  requestId: string;
  createdAt: number;
  note: string | null;
}

/** Verifies a request's signature and, with `window` (seconds), its age at `now`. */
export function verifyOfflineRequest(data: Data, options?: { window?: number; now?: Time }): OfflineRequest;

/**
 * The machine's check of an activation response before installing it: signed by `keys`,
 * answering the `pending` request, its token valid in `options` and bound to the request's
 * device key.
 */
export function verifyOfflineResponse(response: Data, keys: Keys, pending: Data, options: VerifyOptions): License;

/** A deactivation receipt. */
export interface Receipt {
  product: string;
  licenseId: string;
  tokenId: string;
  requestId: string | null;
  at: number;
  /** Whether it was checked against `options.holder`. */
  checked: boolean;
}

/** Reads a receipt; with `holder` (who holds the token now) it is checked as the desk does. */
export function readReceipt(
  data: Data,
  options?: { holder?: 'machine' | 'revoked' | 'replaced'; deviceKey?: Uint8Array | string },
): Receipt;

/** Checks a device's signature over `challenge` (`device_key_mismatch` otherwise). */
export function verifyPossession(deviceKey: Uint8Array | string, challenge: Data, signature: Uint8Array | string): void;

/** Whether this build verifies RSA keys (PS256 / RS256) besides Ed25519. */
export function hasRsa(): boolean;
