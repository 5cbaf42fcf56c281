// Loads LiteRT.js (npm @litertjs/core, served from ./node_modules) in the page or in a worker and
// starts its WASM runtime: the threaded build when the page is cross-origin isolated (COOP / COEP
// headers) and the browser has threads and relaxed SIMD, else the single-threaded one.
//
// The page resolves the package's bare imports with its import map; workers have no import maps,
// so a worker imports the package's module text with that one bare import rewritten to a URL.

const PACKAGES = new URL('./node_modules/@litertjs/', import.meta.url).href;
export const WASM_DIR = `${PACKAGES}core/wasm/`;
const CORE = `${PACKAGES}core/dist/index.js`;
const WASM_UTILS = `${PACKAGES}wasm-utils/dist/index.js`;
const THREADED_JS = 'litert_wasm_threaded_internal.js';

async function importInWorker() {
  const response = await fetch(CORE);
  if (!response.ok) throw new Error(`cannot fetch ${CORE}: HTTP ${response.status}`);
  const source = (await response.text()).replace(/from\s*["']@litertjs\/wasm-utils["']/g, `from ${JSON.stringify(WASM_UTILS)}`);
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  try {
    return await import(url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

function missingPackage(error) {
  return new Error(
    `LiteRT.js did not load from ${PACKAGES} (${error.message ?? error}): install the page's npm packages ` +
      'with `bash scripts/bootstrap.sh web` (npm ci in web_demo/) and serve web_demo/ with scripts/serve_web_demo.py',
  );
}

/**
 * The LiteRT.js module with its WASM runtime started: {litert, threaded, threads, note}.
 * `threads`: false forces the single-threaded build.
 */
export async function startLiteRt({ threads = true } = {}) {
  const inWorker = typeof document === 'undefined';
  let litert;
  try {
    litert = inWorker ? await importInWorker() : await import('@litertjs/core');
  } catch (error) {
    throw missingPackage(error);
  }
  const wantThreads = threads !== false && globalThis.crossOriginIsolated === true;
  // In a worker the emscripten loader would look for its files beside the worker's script.
  const locate = () => {
    if (inWorker) {
      self.Module = { locateFile: (path) => WASM_DIR + path, ...(wantThreads ? { mainScriptUrlOrBlob: WASM_DIR + THREADED_JS } : {}) };
    }
  };
  let note = wantThreads ? '' : globalThis.crossOriginIsolated ? 'threads turned off' : 'not cross-origin isolated: one thread';
  let threaded = false;
  let liteRt;
  if (wantThreads) {
    try {
      locate();
      liteRt = await litert.loadLiteRt(WASM_DIR, { threads: true });
      threaded = true;
    } catch (error) {
      note = `threaded WASM unavailable (${error.message ?? error}): one thread`;
    }
  }
  if (!liteRt) {
    if (inWorker) self.Module = { locateFile: (path) => WASM_DIR + path };
    try {
      liteRt = await litert.loadLiteRt(WASM_DIR);
    } catch (error) {
      throw missingPackage(error);
    }
  }
  const count = typeof liteRt.liteRtWasm.getThreadCount === 'function' ? liteRt.liteRtWasm.getThreadCount() : 1;
  return { litert, threaded, threads: threaded ? count : 1, note };
}
