import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { type Composer, composed, input, type KernelArgs, nhwcPads } from './compose.js';
import { forwardConvInfo, spreadAndPadDy } from './conv-grads.js';

/**
 * Depthwise convolution gradients, missing in tfjs-backend-wasm 4.22 (so depthwise/separable conv
 * layers cannot train there). Both are one XNNPACK depthwise convolution plus a reduction:
 * - filter: every (image, channel) pair becomes its own channel, correlated with its own slice of dy
 *   (stride becomes dilation), then summed over the images;
 * - input: the full correlation of spread dy with the filter turned 180°, summed over the multiplier.
 */

function assertNoDilation(args: KernelArgs): void {
  const d = args.attrs.dilations as number | number[] | undefined;
  if (d !== undefined && [d].flat().some((v) => v !== 1)) {
    throw new Error('wasm depthwise conv gradients support only dilation 1 (as tfjs-core gradients do)');
  }
}

function depthwiseBackpropFilter(c: Composer, args: KernelArgs): TensorInfo {
  assertNoDilation(args);
  const x = input(args, 'x');
  const dy = input(args, 'dy');
  const filterShape = args.attrs.filterShape as number[];
  const info = forwardConvInfo(args, x.shape, filterShape, true);
  const { filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const [n, h, w, ch] = x.shape as [number, number, number, number];
  const mult = filterShape[3] ?? 1;
  const xAsChannels = c.reshape(c.transpose(x, [1, 2, 0, 3]), [1, h, w, n * ch]);
  const dy5 = c.reshape(dy, [n, oh, ow, ch, mult]);
  const dyAsFilter = c.reshape(c.transpose(dy5, [1, 2, 0, 3, 4]), [oh, ow, n * ch, mult]);
  const { top, left } = info.padInfo;
  const bottom = Math.max(0, fh + (oh - 1) * sh - h - top);
  const right = Math.max(0, fw + (ow - 1) * sw - w - left);
  let perImage = c.run(
    'DepthwiseConv2dNative',
    { x: xAsChannels, filter: dyAsFilter },
    {
      strides: [1, 1],
      dilations: [sh, sw],
      pad: nhwcPads(top, bottom, left, right),
    },
  );
  if (perImage.shape[1] !== fh || perImage.shape[2] !== fw) {
    perImage = c.run('Slice', { x: perImage }, { begin: [0, 0, 0, 0], size: [-1, fh, fw, -1] });
  }
  const summed = c.run('Sum', { x: c.reshape(perImage, [fh, fw, n, ch * mult]) }, { axis: [2], keepDims: false });
  return c.reshape(summed, [fh, fw, ch, mult]);
}

function depthwiseBackpropInput(c: Composer, args: KernelArgs): TensorInfo {
  assertNoDilation(args);
  const dy = input(args, 'dy');
  const filter = input(args, 'filter');
  const inputShape = args.attrs.inputShape as number[];
  const info = forwardConvInfo(args, inputShape, filter.shape, true);
  const prepared = spreadAndPadDy(c, dy, info);
  if (!prepared) throw new Error('wasm depthwise input gradient: padding larger than the filter is not supported');
  const [fh, fw, ch, mult] = filter.shape as [number, number, number, number];
  const flipped = c.reshape(c.run('Reverse', { x: filter }, { dims: [0, 1] }), [fh, fw, ch * mult, 1]);
  const perMultiplier = c.run(
    'DepthwiseConv2dNative',
    { x: prepared.dy, filter: flipped },
    {
      strides: [1, 1],
      dilations: [1, 1],
      pad: prepared.pads,
    },
  );
  if (mult === 1) return perMultiplier;
  const [n, h, w] = inputShape as [number, number, number];
  const split = c.reshape(perMultiplier, [n, h, w, ch, mult]);
  return c.run('Sum', { x: split }, { axis: [4], keepDims: false });
}

export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  backendName: 'wasm',
  kernelFunc: composed(depthwiseBackpropFilter),
};

export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  backendName: 'wasm',
  kernelFunc: composed(depthwiseBackpropInput),
};
