/** Resolves a DatasetSpec's source into a dataset: builtins here, uploaded ids through the caller. */
import { BUILTIN } from '../../contract/builtin-datasets.js';
import { DataError } from '../errors.js';
import type { DatasetSpec } from '../spec.js';
import { loadMnist } from './mnist.js';
import { generateSynthetic } from './synthetic.js';
import type { Dataset } from './types.js';

export type DatasetResolver = (id: string) => Promise<Dataset>;

export async function loadDataset(spec: DatasetSpec, resolve?: DatasetResolver): Promise<Dataset> {
  if (spec.source === BUILTIN.mnist) return loadMnist();
  if (spec.source === BUILTIN.synthetic) return generateSynthetic(spec.options);
  if (!resolve) throw new DataError('unknown_source', `dataset "${spec.source}" cannot be resolved here (no dataset resolver given)`);
  return resolve(spec.source);
}
