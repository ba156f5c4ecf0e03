/**
 * What an ONNX model expects, as its uploader declares it (a PyTorch export says nothing of how its
 * inputs were normalized): the layout of image inputs, how dataset values are scaled and normalized per
 * channel, and whether the output is logits or probabilities.
 */

export const ONNX_LAYOUTS = ['nchw', 'nhwc'] as const;
export const ONNX_OUTPUTS = ['logits', 'probabilities'] as const;

export interface OnnxInputDeclaration {
  /** nchw: PyTorch's [channels, height, width]; nhwc: TensorFlow's [height, width, channels]. */
  layout: (typeof ONNX_LAYOUTS)[number];
  /** Dataset values are multiplied by this first (255 for a model trained on 0…255 pixels). */
  scale: number;
  /** Then (value − mean[c]) / std[c] per channel c; one value applies to every channel. */
  mean: number[];
  std: number[];
  /** probabilities are turned into log-probabilities, which soft targets treat as logits. */
  output: (typeof ONNX_OUTPUTS)[number];
}

export const DEFAULT_ONNX_INPUT: OnnxInputDeclaration = { layout: 'nchw', scale: 1, mean: [0], std: [1], output: 'logits' };

/** What the model reads and yields, once checked: the declaration and the graph's own names and shapes. */
export interface OnnxModelFacts {
  declared: OnnxInputDeclaration;
  inputName: string;
  outputName: string;
  /** One sample as the graph reads it (no batch dimension), e.g. [1, 28, 28] for NCHW. */
  modelShape: number[];
  /** The same sample in the dataset's layout (height, width, channels; or features). */
  sampleShape: number[];
  classes: number;
  opset: number;
  parameters: number;
}

/** Channels of a sample in the dataset's layout: the last dimension of an image, the features of a vector. */
export function channelsOf(sampleShape: readonly number[]): number {
  return sampleShape.length === 1 ? sampleShape[0]! : sampleShape.at(-1)!;
}
