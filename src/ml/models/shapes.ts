/**
 * Walks a layer list over a sample shape without building anything: output shape per layer,
 * multiply-adds per sample, and what is wrong (as JSON-pointer suffixes naming layer and field).
 */
import type { LayerSpec } from '../spec.js';

export interface ShapeWalk {
  /** Sample shape after each layer; undefined from the first layer that cannot be applied on. */
  output?: number[];
  /** Sample shape after each layer walked (all of them when there is no problem). */
  shapes: number[][];
  /** Multiply-adds of one forward pass per sample (dense and conv only). */
  macs: number;
  problems: Array<{ path: string; message: string }>;
}

const pair = (v: number | number[] | undefined, fallback: number): [number, number] =>
  v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : [v[0] ?? fallback, v[1] ?? fallback];

function spatialOut(size: number, kernel: number, stride: number, padding: 'valid' | 'same' | undefined): number {
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - kernel) / stride) + 1;
}

export function walkLayers(layers: readonly LayerSpec[], inputShape: readonly number[]): ShapeWalk {
  let shape = [...inputShape];
  let macs = 0;
  const problems: ShapeWalk['problems'] = [];
  const shapes: number[][] = [];
  for (const [i, layer] of layers.entries()) {
    const at = (field: string) => `/layers/${i}/${field}`;
    switch (layer.type) {
      case 'dense': {
        if (shape.length !== 1) {
          problems.push({ path: at('type'), message: `dense needs a flat input but receives [${shape}]: add a flatten layer before layer ${i}` });
          return { macs, problems, shapes };
        }
        macs += shape[0]! * layer.units;
        shape = [layer.units];
        break;
      }
      case 'conv2d':
      case 'maxPooling2d':
      case 'averagePooling2d': {
        if (shape.length !== 3) {
          problems.push({
            path: at('type'),
            message: `${layer.type} needs an image input [height, width, channels] but receives [${shape}]: set the model's input_shape, e.g. [28,28,1]`,
          });
          return { macs, problems, shapes };
        }
        const [h, w, c] = shape as [number, number, number];
        const isConv = layer.type === 'conv2d';
        const [kh, kw] = isConv ? pair(layer.kernel_size, 1) : pair(layer.pool_size, 2);
        const [sh, sw] = isConv ? pair(layer.strides, 1) : pair(layer.strides ?? layer.pool_size, 2);
        // A stride past the input has no window to move to, and the conv gradient kernels index out of
        // bounds on it (the job failed in training, three times): refused here with the field.
        if (sh > h || sw > w) {
          const field = isConv || layer.strides !== undefined ? 'strides' : 'pool_size'; // pooling strides default to pool_size
          problems.push({
            path: at(field),
            message: `strides ${sh}×${sw} are larger than the ${h}×${w} input of layer ${i}: a stride is at most the input's height and width`,
          });
          return { macs, problems, shapes };
        }
        const oh = spatialOut(h, kh, sh, layer.padding);
        const ow = spatialOut(w, kw, sw, layer.padding);
        if (oh < 1 || ow < 1) {
          problems.push({ path: at(isConv ? 'kernel_size' : 'pool_size'), message: `window ${kh}×${kw} does not fit the ${h}×${w} input of layer ${i}` });
          return { macs, problems, shapes };
        }
        const channels = layer.type === 'conv2d' ? layer.filters : c;
        if (layer.type === 'conv2d') macs += oh * ow * channels * kh * kw * c;
        shape = [oh, ow, channels];
        break;
      }
      case 'flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case 'dropout':
      case 'batchNormalization':
      case 'activation':
        break;
    }
    shapes.push(shape);
  }
  return { output: shape, macs, problems, shapes };
}
