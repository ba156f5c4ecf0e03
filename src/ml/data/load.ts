/** Resolves a DatasetSpec's source into a dataset: builtins here, uploaded ids through the caller. */
import { DataError } from '../errors.js';
import type { DatasetSpec } from '../spec.js';
import { loadMnist } from './mnist.js';
import { generateSynthetic } from './synthetic.js';
import type { Dataset } from './types.js';

export type DatasetResolver = (id: string) => Promise<Dataset>;

export async function loadDataset(spec: DatasetSpec, resolve?: DatasetResolver): Promise<Dataset> {
  if (spec.source === 'builtin:mnist') return loadMnist();
  if (spec.source === 'builtin:synthetic') return generateSynthetic(spec.options);
  if (!resolve) throw new DataError('unknown_source', `dataset "${spec.source}" cannot be resolved here (no dataset resolver given)`);
  return resolve(spec.source);
}
