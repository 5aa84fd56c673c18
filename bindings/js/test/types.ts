// Compiled by `tsc --noEmit` in the tests: the declarations describe the API as it is used.
import { verify, inspect, RevocationList, verifyOfflineRequest, readReceipt, hasRsa } from '@licet/verifier';
import type { License, LicetError, VerifyOptions } from '@licet/verifier';

const options: VerifyOptions = { product: 'acme-pro', entitlements: ['pro'], now: new Date() };
export function check(token: Uint8Array | string, pem: string): string {
  try {
    const lic: License = verify(token, pem, options);
    const until: number | null = lic.expiresAt;
    return `${lic.licenseId} ${until ?? 'forever'} ${lic.entitlements.join(',')} ${lic.verified}`;
  } catch (e) {
    return (e as LicetError).code;
  }
}
export const claims: string = inspect('x').tokenId;
export const list: number = RevocationList.verify(new Uint8Array(), [new Uint8Array(32)]).sequence;
export const created: number = verifyOfflineRequest('x', { window: 60 }).createdAt;
export const checked: boolean = readReceipt('x', { holder: 'machine' }).checked;
export const rsa: boolean = hasRsa();
// @ts-expect-error a product is a string
verify('x', 'pem', { product: 1 });
