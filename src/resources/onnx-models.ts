/**
 * ONNX teachers as uploads: one .onnx file (form field `model.onnx`) and what it expects, declared in
 * form fields (layout, scale, mean, std, output). The file is stored as `<folder>/model.onnx` beside
 * `onnx-input.json` (the declaration, which the training child reads: it has no database), checked in
 * the upload-check child with onnxruntime, and recorded with format onnx. The training child's model
 * resolver gets it back with `loadStoredOnnx`.
 */
import { publicLink } from '../public-link.js';
import { Readable } from 'node:stream';
import type { Db } from '../db/client.js';
import type { Model as ModelRow, Prisma } from '../db/generated/client.js';
import { DEFAULT_ONNX_INPUT, ONNX_LAYOUTS, ONNX_OUTPUTS, type OnnxInputDeclaration, type OnnxModelSource } from '../ml/tfjs-free.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { ResourceError } from './errors.js';
import { type CheckLimits, describeStoredOnnx } from './upload-checks.js';
import { onlyFields, quoted, type Upload, type UploadedFile } from './upload.js';

/** Form fields that carry the .onnx file. */
export const ONNX_FILE_FIELDS = ['model.onnx', 'onnx'];
/** What an ONNX model declares of its input (parseDeclaration): the upload's form fields, and `distill run`'s `file:…onnx?…`. */
export const ONNX_DECLARATION_FIELDS: readonly string[] = ['layout', 'scale', 'mean', 'std', 'output'];
export const ONNX_FORM_FIELDS = ['name', 'format', 'layout', 'scale', 'mean', 'std', 'output'] as const;
export const ONNX_FILE = 'model.onnx';
const DECLARATION_FILE = 'onnx-input.json';
/** Channels or features a mean/std list may give values for. */
const MAX_CHANNEL_VALUES = 4096;

/** An upload is an ONNX model when its file comes in `model.onnx` (or is named *.onnx) or `format=onnx` is given. */
export function isOnnxUpload(upload: Upload): boolean {
  return upload.fields.format === 'onnx' || upload.files.some((f) => ONNX_FILE_FIELDS.includes(f.field) || f.filename.toLowerCase().endsWith('.onnx'));
}

/** What the model object adds for an ONNX model: its format, the declaration and the graph's facts. */
export function onnxModelFields(row: ModelRow, publicUrl: string) {
  if (row.format !== 'onnx') return { format: 'tfjs' as const };
  return { format: 'onnx' as const, onnx: row.onnxInput as unknown as OnnxModelObject, url: publicLink(publicUrl, `/v1/models/${row.id}/${ONNX_FILE}`) };
}

/** `onnx` of a model object: the declaration as uploaded, and what the check found in the graph. */
export type OnnxModelObject = OnnxInputDeclaration & { input_name: string; output_name: string; model_input_shape: number[]; opset: number };

export async function createOnnxModel(
  db: Db,
  store: ArtifactStore,
  tenantId: string,
  id: string,
  key: string,
  upload: Upload,
  check: CheckLimits,
): Promise<ModelRow> {
  onlyFields(upload, ONNX_FORM_FIELDS);
  const declared = parseDeclaration(upload.fields);
  const file = onlyFile(upload);
  const name = upload.fields.name;
  if (name !== undefined && (name.length < 1 || name.length > 200)) throw field('name', 'name must be 1 to 200 characters');
  if (file.key) await store.putStream(`${key}/${ONNX_FILE}`, Readable.from(store.stream(file.key)));
  else await store.put(`${key}/${ONNX_FILE}`, file.bytes!);
  if (file.key) await store.remove(file.key);
  await store.put(`${key}/${DECLARATION_FILE}`, new TextEncoder().encode(JSON.stringify(declared)));
  const facts = await describeStoredOnnx(store, key, declared, check);
  const onnx: OnnxModelObject = {
    ...declared,
    input_name: facts.inputName,
    output_name: facts.outputName,
    model_input_shape: facts.modelShape,
    opset: facts.opset,
  };
  return db.model.create({
    data: {
      id,
      tenantId,
      name: name ?? null,
      source: 'uploaded',
      format: 'onnx',
      onnxInput: onnx as unknown as Prisma.InputJsonObject,
      inputShape: facts.sampleShape,
      outputShape: [facts.classes],
      parameters: facts.parameters,
      bytes: BigInt(file.size),
      sha256: file.sha256,
      storageKey: key,
    },
  });
}

/** The training child's view of a stored ONNX model, or undefined for a model of another format. */
export async function loadStoredOnnx(store: ArtifactStore, key: string): Promise<OnnxModelSource | undefined> {
  if ((await store.size(`${key}/${ONNX_FILE}`)) === undefined) return undefined;
  const declared = JSON.parse((await store.get(`${key}/${DECLARATION_FILE}`)).toString('utf8')) as OnnxInputDeclaration;
  return { format: 'onnx', bytes: new Uint8Array(await store.get(`${key}/${ONNX_FILE}`)), declared };
}

function onlyFile(upload: Upload): UploadedFile {
  if (upload.files.length !== 1) {
    throw new ResourceError(
      400,
      'invalid_upload',
      upload.files.length === 0
        ? 'no model file: send the .onnx file in the form field "model.onnx"'
        : `an ONNX model is one .onnx file, but ${upload.files.length} files were sent (weights in external files are not supported: export them inside the model)`,
      'file_count',
    );
  }
  const file = upload.files[0]!;
  if (!file.key && !file.bytes)
    throw new ResourceError(400, 'invalid_upload', `send the .onnx file in the form field "model.onnx" (it came in ${quoted(file.field)})`, 'file_field');
  if (file.size === 0) throw new ResourceError(400, 'invalid_model', 'the .onnx file is empty', 'unloadable');
  return file;
}

/** The declaration from form fields; each bad one is refused naming the field. */
export function parseDeclaration(fields: Record<string, string>): OnnxInputDeclaration {
  const declared: OnnxInputDeclaration = { ...DEFAULT_ONNX_INPUT, mean: [...DEFAULT_ONNX_INPUT.mean], std: [...DEFAULT_ONNX_INPUT.std] };
  if (fields.format !== undefined && fields.format !== 'onnx') throw field('format', `format must be onnx for a .onnx file (got ${quoted(fields.format, 20)})`);
  if (fields.layout !== undefined) {
    if (!(ONNX_LAYOUTS as readonly string[]).includes(fields.layout))
      throw field('layout', `layout must be ${ONNX_LAYOUTS.join(' or ')} (got ${quoted(fields.layout, 20)})`);
    declared.layout = fields.layout as OnnxInputDeclaration['layout'];
  }
  if (fields.output !== undefined) {
    if (!(ONNX_OUTPUTS as readonly string[]).includes(fields.output))
      throw field('output', `output must be ${ONNX_OUTPUTS.join(' or ')} (got ${quoted(fields.output, 20)})`);
    declared.output = fields.output as OnnxInputDeclaration['output'];
  }
  if (fields.scale !== undefined) {
    const scale = Number(fields.scale);
    if (fields.scale.trim() === '' || !Number.isFinite(scale) || scale <= 0)
      throw field('scale', `scale must be a positive number, e.g. 255 for a model that reads 0…255 pixels (got ${quoted(fields.scale, 20)})`);
    declared.scale = scale;
  }
  for (const name of ['mean', 'std'] as const) {
    const text = fields[name];
    if (text === undefined) continue;
    const values = text.split(',').map((v) => (v.trim() === '' ? NaN : Number(v)));
    if (values.length > MAX_CHANNEL_VALUES || values.some((v) => !Number.isFinite(v)) || (name === 'std' && values.some((v) => v <= 0))) {
      throw field(
        name,
        `${name} must be ${name === 'std' ? 'positive numbers' : 'numbers'}, one per channel or one for all, separated by commas, e.g. ${name === 'std' ? '0.229,0.224,0.225' : '0.485,0.456,0.406'} (got ${quoted(text, 40)})`,
      );
    }
    declared[name] = values;
  }
  return declared;
}

const field = (name: string, message: string) => new ResourceError(400, 'invalid_upload', message, `invalid_${name}`);
