// The PyTorch-exported teacher (test/fixtures/onnx/) and what its export script printed.
import { readFileSync } from 'node:fs';
import type { OnnxInputDeclaration } from '../../src/ml/onnx/declaration.js';

const dir = new URL('../fixtures/onnx/', import.meta.url);
export const MNIST_CNN_PATH = new URL('mnist-cnn.onnx', dir);
export const mnistCnnBytes = () => new Uint8Array(readFileSync(MNIST_CNN_PATH));
/** Written by train_mnist_cnn.py: the seed whose split it trained on, its test accuracy, its declaration. */
export const MNIST_CNN = JSON.parse(readFileSync(new URL('mnist-cnn.json', dir), 'utf8')) as {
  seed: number;
  test_samples: number;
  test_accuracy: number;
  parameters: number;
  layout: 'nchw';
  mean: number[];
  std: number[];
  output: 'logits';
};
export const MNIST_CNN_DECLARED: OnnxInputDeclaration = {
  layout: MNIST_CNN.layout,
  scale: 1,
  mean: MNIST_CNN.mean,
  std: MNIST_CNN.std,
  output: MNIST_CNN.output,
};
