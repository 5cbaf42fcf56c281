// The bundle's two LiteRT programs behind the contract's names, over LiteRT.js. The LiteRT.js
// module is passed in (`litert`: its loadAndCompile and Tensor), so this file imports nothing from
// it and node tests it with a stand-in. Programs run through their default signature
// (serving_default); the inputs and outputs they declare must be the manifest's, name for name
// and shape for shape, or loading fails with a message that names the difference.

import { DecoderCall } from './decoder_batches.js';
import { showShape } from './manifest.js';

export class ProgramMismatchError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProgramMismatchError';
  }
}

const sameShape = (program, declared) =>
  program.length === declared.length && program.every((d, i) => d === declared[i] || d < 0);

/** Throws unless a compiled program's inputs / outputs are the manifest's specs. */
export function checkProgramIo(role, file, model, inputs, outputs) {
  const groups = [
    ['inputs', model.getInputDetails(), inputs],
    ['outputs', model.getOutputDetails(), outputs],
  ];
  for (const [kind, details, specs] of groups) {
    const found = details.map((d) => d.name).sort();
    const wanted = specs.map((s) => s.name).sort();
    if (found.join() !== wanted.join()) {
      throw new ProgramMismatchError(
        `${file} (${role}) has ${kind} ${showShape(found)} but manifest.json lists ${showShape(wanted)}`,
      );
    }
    for (const spec of specs) {
      const detail = details.find((d) => d.name === spec.name);
      const shape = Array.from(detail.shape);
      if (!sameShape(shape, spec.shape)) {
        throw new ProgramMismatchError(
          `${file} (${role}): ${spec.name} has shape ${showShape(shape)} in the program but ` +
            `${showShape(spec.shape)} in manifest.json`,
        );
      }
      if (detail.dtype && detail.dtype !== spec.dtype) {
        throw new ProgramMismatchError(
          `${file} (${role}): ${spec.name} is ${detail.dtype} in the program but ${spec.dtype} in manifest.json`,
        );
      }
    }
  }
}

export class LiteRtRuntime {
  /**
   * Compile the two programs (`programs.encoder` / `programs.decoder`: bytes or URLs) with
   * LiteRT.js and check them against the manifest. `options.accelerator` defaults to 'wasm'.
   */
  static async create(litert, manifest, programs, options = {}) {
    const compileOptions = { accelerator: options.accelerator ?? 'wasm' };
    if (options.numThreads) compileOptions.cpuOptions = { numThreads: options.numThreads };
    const models = {};
    try {
      for (const role of ['encoder', 'decoder']) {
        if (programs[role] === undefined) continue; // a worker may load the decoder only
        try {
          models[role] = await litert.loadAndCompile(programs[role], compileOptions);
        } catch (error) {
          throw new Error(`LiteRT.js could not load ${manifest[role].file} (${role}): ${error.message ?? error}`);
        }
      }
      if (models.encoder) {
        checkProgramIo('encoder', manifest.encoder.file, models.encoder, manifest.encoderInputs, manifest.encoderOutputs);
      }
      if (models.decoder) {
        checkProgramIo('decoder', manifest.decoder.file, models.decoder, manifest.decoderInputs, manifest.decoderOutputs);
      }
    } catch (error) {
      for (const model of Object.values(models)) model.delete?.();
      throw error;
    }
    return new LiteRtRuntime(litert, manifest, models.encoder ?? null, models.decoder ?? null);
  }

  constructor(litert, manifest, encoder, decoder) {
    this.litert = litert;
    this.manifest = manifest;
    this.encoder = encoder;
    this.decoder = decoder;
    this.embeddingsCache = null;
    const coords = decoder ? decoder.getInputDetails().find((d) => d.name === 'point_coords') : null;
    // a program whose batch axis is fixed gets full calls (the rows past the prompts are repeats)
    this.programBatch = coords && coords.shape[0] > 0 ? coords.shape[0] : null;
  }

  /** Most prompts per decoder call (the manifest's decoder_batch). */
  get maxBatch() {
    return this.manifest.decoderBatch;
  }

  get maxPoints() {
    return this.manifest.maxPoints;
  }

  tensor(data, shape) {
    return new this.litert.Tensor(data, shape);
  }

  /** Encoder input (1 x 3 x 1024 x 1024 float32) -> image_embeddings (Float32Array). */
  async encode(image) {
    if (!this.encoder) throw new Error('this runtime has no encoder');
    const spec = this.manifest.encoderInputs[0];
    const input = this.tensor(image, spec.shape);
    let outputs;
    try {
      outputs = await this.encoder.run({ [spec.name]: input });
    } finally {
      input.delete();
    }
    return this.take(outputs, [this.manifest.encoderOutputs[0].name])[0];
  }

  /** One DecoderCall against `embeddings` -> {lowRes, iou} per prompt. */
  async decodeCall(embeddings, call) {
    if (!this.decoder) throw new Error('this runtime has no decoder');
    if (call.batch > this.maxBatch) throw new RangeError(`${call.batch} prompts in one call, the decoder takes ${this.maxBatch}`);
    const run = this.programBatch && call.batch < this.programBatch ? padCall(call, this.programBatch) : call;
    const specs = this.manifest.decoderInputs;
    const feed = { [specs[0].name]: this.embeddingsTensor(embeddings) };
    const made = [];
    try {
      specs.slice(1).forEach((spec, i) => {
        const t = this.tensor(run.inputs[i], run.shape(spec));
        made.push(t);
        feed[spec.name] = t;
      });
      const outputs = await this.decoder.run(feed);
      const [lowRes, iou] = this.take(
        outputs,
        this.manifest.decoderOutputs.map((s) => s.name),
      );
      if (run === call) return call.outputs(lowRes, iou);
      return run.outputs(lowRes, iou).slice(0, call.batch);
    } finally {
      for (const t of made) t.delete();
    }
  }

  /** The embeddings tensor, made once per embeddings array (every decoder call shares it). */
  embeddingsTensor(embeddings) {
    if (this.embeddingsCache?.array !== embeddings) {
      this.embeddingsCache?.tensor.delete();
      this.embeddingsCache = { array: embeddings, tensor: this.tensor(embeddings, this.manifest.decoderInputs[0].shape) };
    }
    return this.embeddingsCache.tensor;
  }

  /** Outputs by name as Float32Arrays (copies); every output tensor is freed. */
  take(outputs, names) {
    try {
      return names.map((name) => {
        const tensor = outputs[name];
        if (!tensor) {
          throw new ProgramMismatchError(`the program returned no ${name} (got ${Object.keys(outputs).join(', ')})`);
        }
        const data = tensor.toTypedArray();
        if (!(data instanceof Float32Array)) throw new ProgramMismatchError(`${name} is not float32`);
        return data;
      });
    } finally {
      for (const t of Object.values(outputs)) if (!t.deleted) t.delete();
    }
  }

  delete() {
    this.embeddingsCache?.tensor.delete();
    this.embeddingsCache = null;
    this.encoder?.delete();
    this.decoder?.delete();
  }
}

/** `call` with its last prompt repeated up to `batch` rows. */
function padCall(call, batch) {
  const inputs = call.inputs.map((values) => {
    const row = values.length / call.batch;
    const out = new Float32Array(row * batch);
    out.set(values);
    for (let r = call.batch; r < batch; r++) out.copyWithin(r * row, (call.batch - 1) * row, call.batch * row);
    return out;
  });
  return new DecoderCall(batch, inputs);
}
