// The package's entry for browsers (and Electron renderers without Node): an ES module that
// fetches licet_bg.wasm from beside itself before it is ready, so importers can call it at once.
import init from './licet.js';

await init({ module_or_path: new URL('./licet_bg.wasm', import.meta.url) });

export {
  verify,
  inspect,
  RevocationList,
  verifyOfflineRequest,
  verifyOfflineResponse,
  readReceipt,
  verifyPossession,
  hasRsa,
} from './licet.js';
