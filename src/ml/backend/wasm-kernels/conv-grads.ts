import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { type Composer, composed, input, type KernelArgs, nhwcPads, stockKernel } from './compose.js';

type Shape4 = [number, number, number, number];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

/** The geometry of the forward convolution whose gradient is wanted (dilation is always 1 here). */
export function forwardConvInfo(args: KernelArgs, inShape: number[], filterShape: number[], depthwise: boolean): tf.backend_util.Conv2DInfo {
  const { strides, pad, dimRoundingMode, dataFormat } = args.attrs as {
    strides: number | [number, number];
    pad: Pad;
    dimRoundingMode?: Rounding;
    dataFormat?: 'NHWC' | 'NCHW';
  };
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC');
  if (format !== 'channelsLast') throw new Error('wasm conv gradients support only NHWC (channelsLast) data');
  return tf.backend_util.computeConv2DInfo(inShape as Shape4, filterShape as Shape4, strides, 1, pad, dimRoundingMode, depthwise, format);
}

/**
 * The filter gradient of a convolution is itself a convolution: correlate x with dy, with batch and
 * channels swapped so the sum runs over the batch, and the forward stride becoming a dilation.
 * Result rows past the filter size (VALID padding leaving input rows unused) are sliced off.
 */
function conv2DBackpropFilter(c: Composer, args: KernelArgs): TensorInfo {
  const x = input(args, 'x');
  const dy = input(args, 'dy');
  const info = forwardConvInfo(args, x.shape, args.attrs.filterShape as number[], false);
  const { filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const xT = c.transpose(x, [3, 1, 2, 0]); // [C, H, W, N]: input channels become the batch
  const dyT = c.transpose(dy, [1, 2, 0, 3]); // [oh, ow, N, O]: used as the filter
  const bottom = Math.max(0, fh + (oh - 1) * sh - info.inHeight - top);
  const right = Math.max(0, fw + (ow - 1) * sw - info.inWidth - left);
  let grad = c.run(
    'Conv2D',
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      dilations: [sh, sw],
      pad: nhwcPads(top, bottom, left, right),
      dataFormat: 'NHWC',
    },
  );
  if (grad.shape[1] !== fh || grad.shape[2] !== fw) {
    grad = c.run('Slice', { x: grad }, { begin: [0, 0, 0, 0], size: [-1, fh, fw, -1] });
  }
  return c.transpose(grad, [1, 2, 0, 3]); // [fh, fw, C, O]
}

/**
 * Spreads dy over the input grid of a strided convolution (stride s: s-1 zeros between rows and
 * columns), then pads it so that a stride-1 VALID convolution yields exactly `inHeight x inWidth`.
 * Returns undefined when the forward padding exceeds the filter (explicit pads): the stock kernel
 * handles that rare case.
 */
export function spreadAndPadDy(
  c: Composer,
  dy: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): { dy: TensorInfo; pads: ReturnType<typeof nhwcPads> } | undefined {
  const { filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const top = fh - 1 - info.padInfo.top;
  const left = fw - 1 - info.padInfo.left;
  const spreadH = (oh - 1) * sh + 1;
  const spreadW = (ow - 1) * sw + 1;
  const bottom = info.inHeight + fh - 1 - top - spreadH;
  const right = info.inWidth + fw - 1 - left - spreadW;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return undefined;
  let spread = dy;
  if (sh > 1 || sw > 1) {
    const [n, , , ch] = dy.shape as Shape4;
    const r = c.reshape(dy, [n * oh, 1, ow, 1, ch]);
    const padded = c.run(
      'PadV2',
      { x: r },
      {
        paddings: [
          [0, 0],
          [0, sh - 1],
          [0, 0],
          [0, sw - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    const grid = c.reshape(padded, [n, oh * sh, ow * sw, ch]);
    spread = c.run('Slice', { x: grid }, { begin: [0, 0, 0, 0], size: [n, spreadH, spreadW, ch] });
  }
  return { dy: spread, pads: nhwcPads(top, bottom, left, right) };
}

/**
 * The input gradient is the full correlation of (spread) dy with the filter turned 180° and its
 * channel axes swapped: one XNNPACK convolution instead of the stock scalar loop.
 */
function conv2DBackpropInput(c: Composer, args: KernelArgs): TensorInfo {
  const dy = input(args, 'dy');
  const filter = input(args, 'filter');
  const info = forwardConvInfo(args, args.attrs.inputShape as number[], filter.shape, false);
  const prepared = spreadAndPadDy(c, dy, info);
  if (!prepared) return stockConv2DBackpropInput(args);
  const flipped = c.run('Reverse', { x: filter }, { dims: [0, 1] });
  const swapped = c.transpose(flipped, [0, 1, 3, 2]); // [fh, fw, outC, inC]
  return c.run(
    'Conv2D',
    { x: prepared.dy, filter: swapped },
    {
      strides: [1, 1],
      dilations: [1, 1],
      pad: prepared.pads,
      dataFormat: 'NHWC',
    },
  );
}

function stockConv2DBackpropInput(args: KernelArgs): TensorInfo {
  return stockKernel('Conv2DBackpropInput').kernelFunc(args as never) as TensorInfo;
}

/** Missing in tfjs-backend-wasm 4.22: without it no conv layer can train on wasm. */
export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: composed(conv2DBackpropFilter),
};

/** Override: the stock kernel is a scalar loop (~4 GFLOP/s). */
export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: composed(conv2DBackpropInput),
};
