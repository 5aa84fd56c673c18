// The package's ES-module entry for Node: the same module as `require('@licet/verifier')`.
import { createRequire } from 'node:module';

const licet = createRequire(import.meta.url)('./licet.js');

export const {
  verify,
  inspect,
  RevocationList,
  verifyOfflineRequest,
  verifyOfflineResponse,
  readReceipt,
  verifyPossession,
  hasRsa,
} = licet;
export default licet;
