/**
 * `distill models upload model.onnx --layout nchw --mean 0.1307 --std 0.3081`: brings a teacher trained
 * elsewhere (PyTorch, TensorFlow via tf2onnx) as one .onnx file, with what it expects of its input. The
 * server checks it with onnxruntime and refuses, naming the problem, what cannot be a teacher.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { clientFrom, EXIT, InputError, runAction, withConnection, type ConnectionOptions } from '../client/connection.js';
import { formatBytes } from '../client/report-table.js';

interface UploadOptions extends ConnectionOptions {
  name?: string;
  layout?: string;
  scale?: string;
  mean?: string;
  std?: string;
  output?: string;
}

interface UploadedModel {
  id: string;
  input_shape: number[];
  output_shape: number[];
  parameters: number;
  bytes: number;
  onnx?: { layout: string; model_input_shape: number[]; opset: number };
}

export function registerModelUpload(models: Command): void {
  withConnection(
    models
      .command('upload')
      .description('upload an ONNX teacher (one .onnx file, e.g. from torch.onnx.export); prints the model id')
      .argument('<file>', 'the .onnx file')
      .option('--name <name>', 'a name to show in lists')
      .option('--layout <layout>', 'image inputs: nchw (PyTorch) or nhwc (TensorFlow)', 'nchw')
      .option('--scale <number>', 'dataset values are multiplied by this first (255 for a model trained on 0…255 pixels)')
      .option('--mean <values>', 'per-channel mean subtracted after scaling: one number, or one per channel separated by commas')
      .option('--std <values>', 'per-channel standard deviation divided by: one number, or one per channel')
      .option('--output <kind>', 'what the model outputs: logits or probabilities', 'logits'),
  ).action(
    runAction(async (path: string, options: UploadOptions) => {
      if (!path.toLowerCase().endsWith('.onnx'))
        throw new InputError(`${path} is not an .onnx file (tfjs layers models are uploaded with model.save(tf.io.http('<server>/v1/models')))`);
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch (err) {
        throw new InputError(`cannot read ${path}: ${(err as Error).message}`);
      }
      const given = { name: options.name, layout: options.layout, scale: options.scale, mean: options.mean, std: options.std, output: options.output };
      const fields = Object.fromEntries(Object.entries(given).filter((e): e is [string, string] => e[1] !== undefined));
      const model = await clientFrom(options).upload<UploadedModel>('/v1/models', fields, [{ field: 'model.onnx', filename: basename(path), bytes }]);
      if (options.json) process.stdout.write(`${JSON.stringify(model, null, 2)}\n`);
      else {
        process.stdout.write(`${model.id}\n`);
        const reads = model.onnx
          ? `${model.onnx.layout} [${model.onnx.model_input_shape.join(', ')}] (samples of shape [${model.input_shape.join(', ')}])`
          : `[${model.input_shape.join(', ')}]`;
        process.stderr.write(
          `reads ${reads}, outputs ${model.output_shape[0]} classes; ${model.parameters.toLocaleString('en-US')} parameters, ${formatBytes(model.bytes)}${model.onnx ? `, opset ${model.onnx.opset}` : ''}\nuse it in a job: "teacher": { "model_id": "${model.id}" }\n`,
        );
      }
      return EXIT.ok;
    }),
  );
}
