// The page: opens a LiteRT bundle (served beside the page at bundle/, or picked from disk) and a
// photo (served at photo, or picked), encodes the photo once, and answers clicks (foreground /
// background points) and drags (a box) with the three masks of TinySAM and their predicted IoUs;
// "Segment everything" runs in everything.worker.js. Everything the page computed is on
// `window.tinysam` for tests and benchmarks.
//
// URL parameters: bundle=URL (a folder with manifest.json, default bundle/), photo=URL (default
// photo), threads=0 (the single-threaded WASM build).

import { decoderCalls } from './core/decoder_batches.js';
import { DEFAULT_CONFIG } from './core/everything.js';
import { checkRunnable, parseManifest } from './core/manifest.js';
import { rleEncode } from './core/mask_post.js';
import { pack } from './core/prompts.js';
import { LiteRtRuntime } from './core/runtime.js';
import { preprocess, Segmenter } from './core/segmenter.js';
import { verifyArtifact } from './core/sha256.js';
import { rgbaToRgb, transformCoords } from './core/transforms.js';
import { startLiteRt } from './litert.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const BUNDLE_URL = new URL(params.get('bundle') ?? 'bundle/', location.href);
const PHOTO_URL = new URL(params.get('photo') ?? 'photo', location.href);
const WANT_THREADS = params.get('threads') !== '0';
const MASK_RGB = [30, 120, 255];
const EDGE_RGB = [150, 200, 255];

const state = {
  liteRt: null,
  bundle: null, // {manifest, raw, normalization, runtime, segmenter, decoderBytes, label}
  photo: null, // {name, width, height, rgb}
  encoded: false,
  prompt: { points: [], labels: [], box: null },
  result: null,
  selected: 0,
  busy: false,
  pending: false,
  drag: null,
  worker: null,
  workerReady: null,
  everything: null,
  everythingRun: 0,
};

// ---------------------------------------------------------------- what tests read

let resolveReady;
let rejectReady;
const api = {
  state: 'loading', // loading | ready | error | needs-bundle | needs-photo
  error: null,
  ready: new Promise((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  }),
  runtime: null, // {threaded, threads, note, crossOriginIsolated, hardwareConcurrency, userAgent}
  bundle: null, // {target, recipe, model, untrained, maxPoints, decoderBatch, label}
  image: null, // {name, width, height}
  timings: {}, // {preprocessMs, encodeMs, decodeMs, postprocessMs}
  predictions: 0,
  last: null, // {seq, prompt, iou, best, selected, masks: [{rle, area, box}], timings}
  everything: null, // {running, done, total} then {records, count, strategy, ms, ...}
  /** Run a prompt in original pixels ({points, labels, box}) as a click would. */
  predict: (prompt) => setPrompt(prompt),
  /** Run segment-everything; resolves with its summary. */
  runEverything: (options) => runEverything(options),
  /** SHA-256 (hex) of the RGB bytes the page encodes (to compare its photo decoding with PIL's). */
  rgbDigest: async () => {
    const { sha256Hex } = await import('./core/sha256.js');
    return sha256Hex(state.photo.rgb);
  },
  /** Time `runs` encoder and decoder calls on the current photo after `warmup` of each. */
  benchmark: (options) => benchmark(options),
};
window.tinysam = api;
api.ready.catch(() => {}); // read through tinysam.state / tinysam.error as well

// ---------------------------------------------------------------- status and errors

function status(text) {
  $('status').textContent = text;
}

function showError(title, error) {
  const message = error?.message ?? String(error);
  const box = $('error');
  box.textContent = `${title}: ${message}`;
  box.hidden = false;
  api.error = `${title}: ${message}`;
  console.error(title, error);
}

function clearError() {
  $('error').hidden = true;
  api.error = null;
}

function fail(title, error) {
  showError(title, error);
  api.state = 'error';
  status('Stopped: see the message above.');
  rejectReady(new Error(api.error));
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
const ms = (v) => (v === undefined ? '–' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);

// ---------------------------------------------------------------- bundle

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url.pathname ?? url}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Open a bundle from its manifest text and a reader of its files; replaces the current one. */
async function openBundle(manifestText, readFile, label) {
  const manifest = parseManifest(manifestText); // names the field that is wrong
  const normalization = checkRunnable(manifest); // names what this page cannot run
  status(`Loading ${manifest.encoder.file} and ${manifest.decoder.file}…`);
  const [encoder, decoder] = await Promise.all([readFile(manifest.encoder.file), readFile(manifest.decoder.file)]);
  await verifyArtifact('encoder', manifest.encoder, encoder);
  await verifyArtifact('decoder', manifest.decoder, decoder);
  status('Compiling the programs…');
  // copies for the compiler: the worker gets its own copy of the decoder later
  const runtime = await LiteRtRuntime.create(state.liteRt.litert, manifest, {
    encoder: encoder.slice(),
    decoder: decoder.slice(),
  });
  dropBundle();
  state.bundle = {
    manifest,
    raw: JSON.parse(manifestText),
    normalization,
    runtime,
    segmenter: new Segmenter(runtime, normalization),
    decoderBytes: decoder,
    label,
  };
  api.bundle = {
    label,
    target: manifest.target,
    recipe: manifest.recipe,
    model: manifest.modelConfig,
    untrained: manifest.untrained,
    maxPoints: manifest.maxPoints,
    decoderBatch: manifest.decoderBatch,
    embeddings: manifest.encoderOutputs[0].shape,
  };
  showBundle();
}

function dropBundle() {
  stopWorker();
  if (state.bundle) state.bundle.runtime.delete();
  state.bundle = null;
  state.encoded = false;
  state.result = null;
  api.bundle = null;
}

function showBundle() {
  const b = api.bundle;
  const facts = [
    ['bundle', b.label],
    ['target', `${b.target} (${b.recipe})`],
    ['model', b.model ?? '–'],
    ['embeddings', b.embeddings.join(' × ')],
    ['slots', `${b.maxPoints} per prompt, ${b.decoderBatch} prompt${b.decoderBatch > 1 ? 's' : ''} per call`],
  ];
  $('bundle-info').replaceChildren(
    ...facts.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      return [dt, dd];
    }),
  );
  const warning = $('bundle-warning');
  warning.hidden = !b.untrained;
  warning.textContent = b.untrained
    ? 'Untrained weights: the masks show that the pipeline runs, not what TinySAM sees. ' +
      'Their predicted IoUs are low: lower the everything thresholds to see masks.'
    : '';
}

async function openServedBundle() {
  const manifestUrl = new URL('manifest.json', BUNDLE_URL);
  let response;
  try {
    response = await fetch(manifestUrl);
  } catch (error) {
    throw new Error(`cannot fetch ${manifestUrl}: ${error.message}`);
  }
  if (response.status === 404) return false;
  if (!response.ok) throw new Error(`${manifestUrl.pathname}: HTTP ${response.status}`);
  const text = await response.text();
  await openBundle(text, (file) => fetchBytes(new URL(file, manifestUrl)), BUNDLE_URL.pathname);
  return true;
}

/** A bundle picked from disk: a folder or its files (manifest.json beside the two programs). */
async function openPickedBundle(fileList) {
  const files = Array.from(fileList);
  const path = (f) => f.webkitRelativePath || f.name;
  let manifests = files.filter((f) => f.name === 'manifest.json');
  if (manifests.length === 0) manifests = files.filter((f) => f.name.endsWith('.json')); // a renamed manifest
  if (manifests.length === 0) {
    throw new Error(`no manifest.json among the ${files.length} files picked; pick a bundle folder, or its manifest.json with its two programs`);
  }
  manifests.sort((a, b) => path(a).split('/').length - path(b).split('/').length);
  const manifestFile = manifests[0];
  const folder = path(manifestFile).slice(0, -manifestFile.name.length);
  const readFile = async (name) => {
    const file = files.find((f) => path(f) === folder + name) ?? files.find((f) => f.name === name);
    if (!file) throw new Error(`${name} (named in manifest.json's artifacts) was not picked: pick it with manifest.json`);
    return new Uint8Array(await file.arrayBuffer());
  };
  await openBundle(await manifestFile.text(), readFile, `${folder || manifestFile.name} (from disk)`);
}

// ---------------------------------------------------------------- photo

async function openPhoto(blob, name) {
  let bitmap;
  try {
    // upright per EXIF, the file's own values (no color management: PIL applies none)
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (error) {
    throw new Error(`${name} is not an image this browser can decode (${error.message})`);
  }
  const { width, height } = bitmap;
  const canvas = $('photo');
  canvas.width = width;
  canvas.height = height;
  const overlay = $('overlay');
  overlay.width = width;
  overlay.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.fillStyle = '#fff'; // transparency on white, as tinysam_mobile.images does
  context.fillRect(0, 0, width, height);
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgb = rgbaToRgb(context.getImageData(0, 0, width, height).data);
  state.photo = { name, width, height, rgb };
  state.encoded = false;
  state.result = null;
  state.everything = null;
  state.prompt = { points: [], labels: [], box: null };
  api.image = { name, width, height };
  $('photo-info').textContent = `${name}: ${width} × ${height}`;
  drawOverlay();
}

async function openServedPhoto() {
  const response = await fetch(PHOTO_URL);
  if (response.status === 404) return false;
  if (!response.ok) throw new Error(`${PHOTO_URL.pathname}: HTTP ${response.status}`);
  // scripts/serve_web_demo.py names the file in Content-Disposition
  const named = /filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') ?? '');
  await openPhoto(await response.blob(), named ? named[1] : decodeURIComponent(PHOTO_URL.pathname.split('/').pop()));
  return true;
}

// ---------------------------------------------------------------- encode and predict

async function encode() {
  if (!state.bundle || !state.photo) return;
  const { width, height } = state.photo;
  status(`Encoding the ${width} × ${height} photo…`);
  setControls(false);
  await nextFrame();
  const times = await state.bundle.segmenter.setImage(state.photo.rgb, height, width);
  state.encoded = true;
  api.timings = { preprocessMs: times.preprocessMs, encodeMs: times.encodeMs };
  $('t-encode').textContent = ms(times.encodeMs);
  $('t-decode').textContent = '–';
  $('t-prepost').textContent = `${ms(times.preprocessMs)} / –`;
  status('Ready: click the photo (shift-click or right-click for background), drag for a box.');
  setControls(true);
  if (state.prompt.points.length || state.prompt.box) requestPredict().catch(() => {});
}

function setControls(enabled) {
  const has = state.prompt.points.length > 0 || state.prompt.box !== null;
  $('everything').disabled = !enabled || state.worker?.running === true;
  $('undo').disabled = !enabled || !has;
  $('clear').disabled = !enabled || (!has && !state.everything);
}

function setPrompt(prompt) {
  state.prompt = {
    points: (prompt.points ?? []).map((p) => [p[0], p[1]]),
    labels: [...(prompt.labels ?? [])],
    box: prompt.box ? [...prompt.box] : null,
  };
  state.everything = null;
  return requestPredict();
}

let predictWaiters = [];

/** Predict for the current prompt; calls made while one runs coalesce into one more run. */
function requestPredict() {
  const done = new Promise((resolve, reject) => predictWaiters.push({ resolve, reject }));
  if (state.busy) {
    state.pending = true;
  } else {
    predictLoop();
  }
  return done;
}

async function predictLoop() {
  state.busy = true;
  while (true) {
    state.pending = false;
    const waiters = predictWaiters;
    predictWaiters = [];
    try {
      const result = await predictOnce();
      for (const w of waiters) w.resolve(result);
    } catch (error) {
      showError('Cannot segment this prompt', error);
      for (const w of waiters) w.reject(error);
    }
    if (!state.pending) break;
  }
  state.busy = false;
}

async function predictOnce() {
  const { points, labels, box } = state.prompt;
  if (!state.encoded) return null;
  if (points.length === 0 && box === null) {
    state.result = null;
    api.last = null;
    showCandidates();
    drawOverlay();
    setControls(true);
    return null;
  }
  const photo = state.photo;
  const bundle = state.bundle;
  const result = await bundle.segmenter.predict({ points: points.length ? points : null, labels: points.length ? labels : null, box });
  // a photo or bundle opened meanwhile: this answer is for the previous one
  if (state.photo !== photo || state.bundle !== bundle || !state.encoded) return null;
  clearError();
  state.result = result;
  state.selected = result.best;
  api.predictions += 1;
  api.timings = { ...api.timings, decodeMs: result.decodeMs, postprocessMs: result.postprocessMs };
  api.last = {
    seq: api.predictions,
    prompt: { points: points.map((p) => [...p]), labels: [...labels], box: box ? [...box] : null },
    imageSize: [state.photo.height, state.photo.width],
    iou: Array.from(result.iou),
    best: result.best,
    selected: result.best,
    masks: result.masks.map((m) => ({ rle: rleEncode(m.bits), area: m.area, box: m.box })),
    timings: { decodeMs: result.decodeMs, postprocessMs: result.postprocessMs },
  };
  $('t-decode').textContent = ms(result.decodeMs);
  $('t-prepost').textContent = `${ms(api.timings.preprocessMs)} / ${ms(result.postprocessMs)}`;
  showCandidates();
  drawOverlay();
  setControls(true);
  return api.last;
}

// ---------------------------------------------------------------- drawing

function showCandidates() {
  const list = $('candidates');
  const result = state.result;
  if (!result) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = 'Click the photo.';
    list.replaceChildren(p);
    return;
  }
  const { width, height } = state.photo;
  const thumbW = 96;
  const thumbH = Math.max(1, Math.round((thumbW * height) / width));
  list.replaceChildren(
    ...result.masks.map((mask, k) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'candidate';
      button.setAttribute('aria-pressed', String(k === state.selected));
      button.dataset.index = String(k);
      const canvas = document.createElement('canvas');
      canvas.width = thumbW;
      canvas.height = thumbH;
      const image = canvas.getContext('2d').createImageData(thumbW, thumbH);
      for (let y = 0; y < thumbH; y++) {
        const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / thumbH));
        for (let x = 0; x < thumbW; x++) {
          const sx = Math.min(width - 1, Math.floor(((x + 0.5) * width) / thumbW));
          const on = mask.bits[sy * width + sx];
          const o = 4 * (y * thumbW + x);
          image.data.set(on ? [...MASK_RGB, 255] : [40, 40, 40, 255], o);
        }
      }
      canvas.getContext('2d').putImageData(image, 0, 0);
      const label = document.createElement('span');
      label.innerHTML = `${k === result.best ? '<span class="best">best</span> ' : ''}IoU <b></b><br><small></small>`;
      label.querySelector('b').textContent = result.iou[k].toFixed(3);
      label.querySelector('small').textContent = `${mask.area.toLocaleString()} px`;
      button.append(canvas, label);
      button.addEventListener('click', () => {
        state.selected = k;
        if (api.last) api.last.selected = k;
        showCandidates();
        drawOverlay();
      });
      return button;
    }),
  );
}

let overlayImage = null;
let overlayKey = null; // what overlayImage shows: a mask and its selection, or everything's result

function overlayBuffer(width, height) {
  if (!overlayImage || overlayImage.width !== width || overlayImage.height !== height) {
    overlayImage = new ImageData(width, height);
  } else {
    overlayImage.data.fill(0);
  }
  return overlayImage;
}

/** The selected mask (filled, with its outline), the prompt's points and box; or everything's masks. */
function drawOverlay() {
  const canvas = $('overlay');
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, canvas.width, canvas.height);
  if (!state.photo) return;
  const { width, height } = state.photo;
  if (state.everything) {
    if (overlayKey !== state.everything) {
      paintEverything(overlayBuffer(width, height), state.everything.records);
      overlayKey = state.everything;
    }
    context.putImageData(overlayImage, 0, 0);
    return;
  }
  if (state.result) {
    const key = state.result.masks[state.selected];
    if (overlayKey !== key) {
      paintMask(overlayBuffer(width, height), width, height, key.bits);
      overlayKey = key;
    }
    context.putImageData(overlayImage, 0, 0);
  }
  drawPrompt(context, width);
}

function paintMask(image, width, height, bits) {
  const data = image.data;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!bits[i]) continue;
      const edge =
        x === 0 || y === 0 || x === width - 1 || y === height - 1 || !bits[i - 1] || !bits[i + 1] || !bits[i - width] || !bits[i + width];
      data[4 * i] = edge ? EDGE_RGB[0] : MASK_RGB[0];
      data[4 * i + 1] = edge ? EDGE_RGB[1] : MASK_RGB[1];
      data[4 * i + 2] = edge ? EDGE_RGB[2] : MASK_RGB[2];
      data[4 * i + 3] = edge ? 230 : 120;
    }
  }
}

function drawPrompt(context, width) {
  const scale = width / Math.max(1, $('overlay').getBoundingClientRect().width || width);
  const radius = 6 * scale;
  context.lineWidth = 2 * scale;
  state.prompt.points.forEach(([x, y], i) => {
    context.beginPath();
    context.arc(x, y, radius, 0, 2 * Math.PI);
    context.fillStyle = state.prompt.labels[i] === 1 ? '#2fbf4a' : '#e5392f';
    context.fill();
    context.strokeStyle = '#fff';
    context.stroke();
  });
  const box = state.drag?.moved ? dragBox(state.drag) : state.prompt.box;
  if (box) {
    context.setLineDash(state.drag?.moved ? [6 * scale, 4 * scale] : []);
    context.strokeStyle = '#ffd400';
    context.strokeRect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
    context.setLineDash([]);
  }
}

function paintEverything(image, records) {
  const data = image.data;
  // largest first, so smaller masks stay visible on top (as SAM's show_anns)
  const order = records.map((_, i) => i).sort((a, b) => records[b].area - records[a].area);
  for (const i of order) {
    const [r, g, b] = hslToRgb(((i * 137.508) % 360) / 360, 0.75, 0.55);
    let at = 0;
    records[i].rle.forEach((length, k) => {
      if (k % 2 === 1) {
        for (let p = at; p < at + length; p++) {
          data[4 * p] = r;
          data[4 * p + 1] = g;
          data[4 * p + 2] = b;
          data[4 * p + 3] = 150;
        }
      }
      at += length;
    });
  }
}

function hslToRgb(h, s, l) {
  const f = (n) => {
    const k = (n + h * 12) % 12;
    const a = s * Math.min(l, 1 - l);
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

// ---------------------------------------------------------------- pointer input

function imagePoint(event) {
  const rect = $('overlay').getBoundingClientRect();
  const { width, height } = state.photo;
  const x = ((event.clientX - rect.left) * width) / rect.width;
  const y = ((event.clientY - rect.top) * height) / rect.height;
  return [Math.min(Math.max(x, 0), width), Math.min(Math.max(y, 0), height)];
}

function dragBox(drag) {
  return [Math.min(drag.x0, drag.x1), Math.min(drag.y0, drag.y1), Math.max(drag.x0, drag.x1), Math.max(drag.y0, drag.y1)];
}

function interactive() {
  return state.encoded && !state.worker?.running;
}

function onPointerDown(event) {
  if (!interactive() || event.button === 1) return;
  event.preventDefault();
  const [x, y] = imagePoint(event);
  state.drag = {
    x0: x,
    y0: y,
    x1: x,
    y1: y,
    clientX: event.clientX,
    clientY: event.clientY,
    background: event.button === 2 || event.shiftKey,
    moved: false,
  };
  $('overlay').setPointerCapture(event.pointerId);
}

function onPointerMove(event) {
  const drag = state.drag;
  if (!drag) return;
  [drag.x1, drag.y1] = imagePoint(event);
  if (Math.hypot(event.clientX - drag.clientX, event.clientY - drag.clientY) > 5) drag.moved = true;
  if (drag.moved) drawOverlay();
}

function onPointerUp(event) {
  const drag = state.drag;
  if (!drag) return;
  state.drag = null;
  [drag.x1, drag.y1] = imagePoint(event);
  state.everything = null;
  const box = dragBox(drag);
  if (drag.moved && box[2] > box[0] && box[3] > box[1]) {
    state.prompt.box = box;
  } else {
    state.prompt.points.push([drag.x0, drag.y0]);
    state.prompt.labels.push(drag.background ? 0 : 1);
  }
  drawOverlay();
  requestPredict().catch(() => {});
}

// ---------------------------------------------------------------- segment everything

function stopWorker() {
  if (state.worker) state.worker.terminate();
  state.worker = null;
  state.workerReady = null;
}

function startWorker() {
  const worker = new Worker(new URL('./everything.worker.js', import.meta.url));
  state.worker = worker;
  state.workerReady = new Promise((resolve, reject) => {
    let settled = false;
    worker.onmessage = (event) => {
      const message = event.data;
      if (!settled && (message.type === 'ready' || message.type === 'error')) {
        settled = true;
        if (message.type === 'ready') resolve(message);
        else reject(new Error(message.message));
      } else {
        worker.listener?.(message);
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      const error = new Error(`the everything worker failed: ${event.message || 'its script did not load'}`);
      if (!settled) {
        settled = true;
        reject(error);
      }
      worker.listener?.({ type: 'error', message: error.message });
    };
  });
  const decoder = state.bundle.decoderBytes.slice().buffer;
  worker.postMessage({ type: 'init', manifest: state.bundle.raw, decoder, threads: WANT_THREADS }, [decoder]);
  return state.workerReady;
}

function everythingOptions(overrides = {}) {
  const number = (id, fallback) => {
    const value = Number($(id).value);
    return Number.isFinite(value) && $(id).value !== '' ? value : fallback;
  };
  return {
    strategy: $('strategy').value,
    pointsPerSide: Math.round(number('points-per-side', DEFAULT_CONFIG.pointsPerSide)),
    predIouThresh: number('pred-iou', DEFAULT_CONFIG.predIouThresh),
    stabilityScoreThresh: number('stability', DEFAULT_CONFIG.stabilityScoreThresh),
    ...overrides,
  };
}

async function runEverything(overrides = {}) {
  if (!state.encoded) throw new Error('no photo is encoded yet');
  if (state.worker?.running) throw new Error('segment everything is already running');
  const options = everythingOptions(overrides);
  const id = ++state.everythingRun;
  const progress = $('progress');
  progress.hidden = false;
  progress.value = 0;
  $('cancel').hidden = false;
  $('everything-info').textContent = 'Starting the worker…';
  api.everything = { running: true, done: 0, total: 0, options };
  try {
    if (!state.worker) startWorker();
    const worker = state.worker;
    worker.running = true;
    setControls(true);
    const ready = await state.workerReady;
    api.runtime.workerThreads = ready.threads;
    const { height, width } = state.photo;
    const result = await new Promise((resolve, reject) => {
      worker.listener = (message) => {
        if (message.type === 'progress' && message.id === id) {
          progress.max = message.total;
          progress.value = message.done;
          api.everything = { ...api.everything, done: message.done, total: message.total };
          $('everything-info').textContent = `${message.done} / ${message.total} prompts decoded`;
        } else if (message.type === 'done' && message.id === id) {
          resolve(message);
        } else if (message.type === 'error') {
          reject(new Error(message.message));
        } else if (message.type === 'cancelled') {
          reject(Object.assign(new Error('cancelled'), { cancelled: true }));
        }
      };
      const embeddings = state.bundle.segmenter.embeddings.slice();
      worker.postMessage({ type: 'run', id, embeddings, height, width, options }, [embeddings.buffer]);
    });
    worker.running = false;
    worker.listener = null;
    state.everything = result;
    state.result = null;
    state.prompt = { points: [], labels: [], box: null };
    const summary = {
      running: false,
      strategy: options.strategy,
      options,
      count: result.records.length,
      promptsDecoded: result.promptsDecoded,
      pointsSkipped: result.pointsSkipped,
      decodeCalls: result.decodeCalls,
      ms: result.ms,
      records: result.records, // {rle, area, bbox [x, y, w, h], predictedIou, stability, point, stage}
    };
    api.everything = summary;
    const skipped = options.strategy === 'hierarchical' ? `, ${result.pointsSkipped} dense points skipped` : '';
    $('everything-info').textContent =
      `${result.records.length} masks from ${result.promptsDecoded} prompts${skipped} in ${(result.ms / 1000).toFixed(1)} s ` +
      `(worker: ${ready.threads} WASM thread${ready.threads > 1 ? 's' : ''})`;
    showCandidates();
    drawOverlay();
    return summary;
  } catch (error) {
    if (error.cancelled) {
      $('everything-info').textContent = 'Cancelled.';
      api.everything = { running: false, cancelled: true };
    } else {
      stopWorker();
      api.everything = { running: false, error: error.message };
      $('everything-info').textContent = '';
      showError('Segment everything failed', error);
    }
    throw error;
  } finally {
    if (state.worker) state.worker.running = false;
    progress.hidden = true;
    $('cancel').hidden = true;
    setControls(state.encoded);
  }
}

function cancelEverything() {
  const worker = state.worker;
  if (!worker?.running) return;
  const listener = worker.listener;
  stopWorker(); // a worker busy in its decoder loop reads no messages: stop it, start anew next time
  listener?.({ type: 'cancelled' });
}

// ---------------------------------------------------------------- benchmark (benchmarks/web_latency.py)

async function benchmark({ runs = 5, warmup = 1 } = {}) {
  if (!state.encoded) throw new Error('no photo is encoded yet');
  const { runtime, segmenter, normalization, manifest } = state.bundle;
  const { rgb, height, width } = state.photo;
  const { tensor } = preprocess(rgb, height, width, normalization);
  const encodeMs = [];
  for (let i = 0; i < warmup + runs; i++) {
    const t0 = performance.now();
    await runtime.encode(tensor);
    if (i >= warmup) encodeMs.push(performance.now() - t0);
  }
  const frame = transformCoords([width / 2, height / 2], height, width);
  const [call] = decoderCalls([pack(frame, [1], null, manifest.maxPoints)], manifest.maxPoints, manifest.decoderBatch);
  const decodeMs = [];
  for (let i = 0; i < warmup + runs; i++) {
    const t0 = performance.now();
    await runtime.decodeCall(segmenter.embeddings, call);
    if (i >= warmup) decodeMs.push(performance.now() - t0);
  }
  return { encodeMs, decodeMs, runtime: api.runtime, image: api.image, bundle: api.bundle };
}

// ---------------------------------------------------------------- start

function wireControls() {
  const overlay = $('overlay');
  overlay.addEventListener('pointerdown', onPointerDown);
  overlay.addEventListener('pointermove', onPointerMove);
  overlay.addEventListener('pointerup', onPointerUp);
  overlay.addEventListener('pointercancel', () => {
    state.drag = null;
    drawOverlay();
  });
  overlay.addEventListener('contextmenu', (event) => event.preventDefault());
  $('undo').addEventListener('click', () => {
    if (state.prompt.points.length) {
      state.prompt.points.pop();
      state.prompt.labels.pop();
    } else {
      state.prompt.box = null;
    }
    requestPredict().catch(() => {});
  });
  $('clear').addEventListener('click', () => {
    state.everything = null;
    setPrompt({}).catch(() => {});
  });
  $('everything').addEventListener('click', () => runEverything().catch(() => {}));
  $('cancel').addEventListener('click', cancelEverything);
  const pickBundle = async (input) => {
    if (!input.files.length) return;
    if (state.worker?.running) cancelEverything();
    try {
      await openPickedBundle(input.files);
      clearError();
      api.state = state.photo ? 'loading' : 'needs-photo';
      await encode();
      if (state.encoded) {
        api.state = 'ready';
        resolveReady(api);
      }
    } catch (error) {
      showError('Cannot open this bundle', error);
      status(state.bundle ? 'Still using the previous bundle.' : 'Open a LiteRT bundle to start.');
    } finally {
      input.value = '';
    }
  };
  $('bundle-dir').addEventListener('change', (event) => pickBundle(event.target));
  $('bundle-files').addEventListener('change', (event) => pickBundle(event.target));
  $('photo-file').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    if (state.worker?.running) cancelEverything();
    try {
      await openPhoto(file, file.name);
      clearError();
      await encode();
      if (state.encoded && api.state !== 'ready') {
        api.state = 'ready';
        resolveReady(api);
      }
    } catch (error) {
      showError('Cannot open this photo', error);
    } finally {
      event.target.value = '';
    }
  });
  window.addEventListener('resize', () => drawOverlay());
}

async function main() {
  wireControls();
  api.runtime = {
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    hardwareConcurrency: navigator.hardwareConcurrency,
    userAgent: navigator.userAgent,
  };
  status('Starting LiteRT.js…');
  try {
    state.liteRt = await startLiteRt({ threads: WANT_THREADS });
  } catch (error) {
    fail('LiteRT.js did not start', error);
    return;
  }
  const { threaded, threads, note } = state.liteRt;
  Object.assign(api.runtime, { threaded, threads, note });
  $('t-threads').textContent = `${threads} thread${threads > 1 ? 's' : ''}${note ? ` (${note})` : ''}`;
  let haveBundle = false;
  try {
    haveBundle = await openServedBundle();
  } catch (error) {
    fail('Cannot open the bundle served beside the page', error);
    return;
  }
  if (!haveBundle) {
    api.state = 'needs-bundle';
    $('bundle-info').replaceChildren();
    status('No bundle is served beside this page: open a LiteRT bundle folder (or serve one with scripts/serve_web_demo.py --bundle DIR).');
  }
  try {
    if (!(await openServedPhoto())) {
      $('photo-info').textContent = 'No photo is served beside this page: open one.';
      if (haveBundle) {
        api.state = 'needs-photo';
        status('Open a photo to start.');
      }
      return;
    }
  } catch (error) {
    fail('Cannot open the photo served beside the page', error);
    return;
  }
  if (!haveBundle) return;
  try {
    await encode();
  } catch (error) {
    fail('Cannot encode the photo', error);
    return;
  }
  api.state = 'ready';
  resolveReady(api);
}

main();
