// "Segment everything" off the page's thread: its own LiteRT.js runtime with the bundle's decoder,
// the page's image embeddings, the grid or hierarchical strategy of core/everything.js, progress
// after every decoder call, and the kept masks back as RLE at the original size. A classic worker
// (LiteRT.js loads its WASM with importScripts); the ES modules come in through import().
//
// Messages in:  {type: 'init', manifest, decoder (ArrayBuffer), threads}
//               {type: 'run', id, embeddings (Float32Array), height, width, options}
// Messages out: {type: 'ready', threaded, threads, note} | {type: 'progress', id, done, total}
//               {type: 'done', id, records, promptsDecoded, pointsSkipped, decodeCalls, ms}
//               {type: 'error', id, message}
// Cancelling is terminating the worker (the page starts a new one).

let modules = null;
let runtime = null;
let segmenter = null;

async function load() {
  if (modules === null) {
    const [litertLoader, manifestModule, runtimeModule, segmenterModule, everything, maskPost] = await Promise.all([
      import('./litert.js'),
      import('./core/manifest.js'),
      import('./core/runtime.js'),
      import('./core/segmenter.js'),
      import('./core/everything.js'),
      import('./core/mask_post.js'),
    ]);
    modules = { litertLoader, manifestModule, runtimeModule, segmenterModule, everything, maskPost };
  }
  return modules;
}

async function init(message) {
  const m = await load();
  const manifest = m.manifestModule.parseManifest(message.manifest);
  m.manifestModule.checkRunnable(manifest);
  const started = await m.litertLoader.startLiteRt({ threads: message.threads });
  runtime = await m.runtimeModule.LiteRtRuntime.create(started.litert, manifest, { decoder: new Uint8Array(message.decoder) });
  segmenter = new m.segmenterModule.Segmenter(runtime);
  return { threaded: started.threaded, threads: started.threads, note: started.note };
}

async function run(message) {
  const m = await load();
  if (segmenter === null) throw new Error('the worker has no decoder yet');
  const t0 = performance.now();
  segmenter.setEmbeddings(message.embeddings, message.height, message.width);
  const generator = new m.everything.AutoMaskGenerator(
    segmenter.promptDecoder(),
    message.height,
    message.width,
    runtime.maxPoints,
    message.options,
  );
  const masks = await generator.generate({
    progress: (done, total) => self.postMessage({ type: 'progress', id: message.id, done, total }),
  });
  const records = [];
  for (const mask of masks) {
    const record = m.everything.maskRecord(mask, message.height, message.width);
    if (record === null) continue;
    const { bits, ...rest } = record;
    records.push({ ...rest, rle: m.maskPost.rleEncode(bits) });
  }
  return {
    records,
    promptsDecoded: generator.promptsDecoded,
    pointsSkipped: generator.pointsSkipped,
    decodeCalls: generator.decodeCalls,
    ms: performance.now() - t0,
  };
}

self.onmessage = async (event) => {
  const message = event.data;
  try {
    if (message.type === 'init') {
      self.postMessage({ type: 'ready', ...(await init(message)) });
    } else if (message.type === 'run') {
      self.postMessage({ type: 'done', id: message.id, ...(await run(message)) });
    }
  } catch (error) {
    self.postMessage({ type: 'error', id: message.id ?? null, message: error.message ?? String(error) });
  }
};
