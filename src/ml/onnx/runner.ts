/**
 * Runs an ONNX teacher with onnxruntime over dataset samples: each batch is turned from the dataset's
 * layout (height, width, channels; or features) into what the model declared it reads (NCHW or NHWC,
 * scaled, normalized per channel), and its class scores come back as logits (log-probabilities for a
 * model that outputs probabilities), which is what soft targets and accuracy are computed from.
 */
import type * as ort from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { round } from '../report.js';
import { channelsOf, type OnnxModelFacts } from './declaration.js';
import { openOnnxSession } from './inspect.js';

/** Samples per onnxruntime call: large enough to keep its threads busy, small enough to stay responsive. */
export const ONNX_BATCH = 256;
/** log(0) would be −∞ and every loss NaN: a zero probability is read as this one. */
const MIN_PROBABILITY = 1e-30;

export class OnnxRunner {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly facts: OnnxModelFacts,
    readonly bytes: number,
  ) {}

  static async open(bytes: Uint8Array, facts: OnnxModelFacts): Promise<OnnxRunner> {
    return new OnnxRunner(await openOnnxSession(bytes), facts, bytes.byteLength);
  }

  /** Logits of `count` samples given flat in the dataset's layout at `facts.sampleShape`: count × classes. */
  async logits(samples: Float32Array, count: number, onBatch?: (done: number) => void): Promise<Float32Array> {
    const per = this.facts.sampleShape.reduce((a, b) => a * b, 1);
    const classes = this.facts.classes;
    const out = new Float32Array(count * classes);
    for (let start = 0; start < count; start += ONNX_BATCH) {
      const n = Math.min(ONNX_BATCH, count - start);
      const scores = await this.run(samples.subarray(start * per, (start + n) * per), n);
      if (this.facts.declared.output === 'probabilities') for (let i = 0; i < scores.length; i++) scores[i] = Math.log(Math.max(scores[i]!, MIN_PROBABILITY));
      out.set(scores, start * classes);
      onBatch?.(start + n);
    }
    return out;
  }

  /** Median milliseconds per sample at batch 1 and 256, measured as the engine measures tfjs models. */
  async latency(): Promise<{ batch_1: number; batch_256: number }> {
    const per = this.facts.sampleShape.reduce((a, b) => a * b, 1);
    const perSample = async (batch: number, repeats: number, budgetMs: number) => {
      const input = new Float32Array(batch * per);
      const once = async () => {
        const t0 = performance.now();
        await this.run(input, batch);
        return performance.now() - t0;
      };
      await once();
      await once();
      const times: number[] = [];
      const started = performance.now();
      while (times.length < repeats && (times.length < 3 || performance.now() - started < budgetMs)) times.push(await once());
      times.sort((a, b) => a - b);
      return round(times[Math.floor(times.length / 2)]! / batch, 6);
    };
    return { batch_1: await perSample(1, 21, 300), batch_256: await perSample(ONNX_BATCH, 7, 1000) };
  }

  release(): Promise<void> {
    return this.session.release();
  }

  private async run(samples: Float32Array, n: number): Promise<Float32Array> {
    const { inputName, outputName, modelShape } = this.facts;
    const feeds = { [inputName]: new Tensor('float32', toModelInput(samples, n, this.facts), [n, ...modelShape]) };
    const result = await this.session.run(feeds);
    const scores = result[outputName]!;
    const data = scores.data as Float32Array;
    if (data.length !== n * this.facts.classes)
      throw new Error(`the ONNX teacher returned ${data.length} scores for ${n} samples of ${this.facts.classes} classes`);
    // A copy: onnxruntime's output buffer is released with its tensor.
    const copy = Float32Array.from(data);
    scores.dispose();
    return copy;
  }
}

/** Samples in the dataset's layout → the model's: scaled, normalized per channel, transposed for NCHW. */
export function toModelInput(samples: Float32Array, n: number, facts: OnnxModelFacts): Float32Array {
  const { scale, mean, std, layout } = facts.declared;
  const channels = channelsOf(facts.sampleShape);
  const out = new Float32Array(samples.length);
  const m = Float32Array.from({ length: channels }, (_, c) => mean[mean.length === 1 ? 0 : c]!);
  const inv = Float32Array.from({ length: channels }, (_, c) => 1 / std[std.length === 1 ? 0 : c]!);
  const transpose = facts.modelShape.length === 3 && layout === 'nchw';
  if (!transpose) {
    for (let i = 0; i < samples.length; i++) {
      const c = i % channels;
      out[i] = (samples[i]! * scale - m[c]!) * inv[c]!;
    }
    return out;
  }
  const [height, width] = facts.sampleShape as [number, number, number];
  const plane = height * width;
  const per = plane * channels;
  for (let s = 0; s < n; s++) {
    const base = s * per;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < channels; c++) out[base + c * plane + p] = (samples[base + p * channels + c]! * scale - m[c]!) * inv[c]!;
    }
  }
  return out;
}
