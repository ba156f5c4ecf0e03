/** The datasets every server has, by the ids jobs name them with (plain values: the dashboard bundles this file). */
export const BUILTIN = { mnist: 'builtin:mnist', synthetic: 'builtin:synthetic' } as const;
export const BUILTIN_DATASET_IDS = [BUILTIN.mnist, BUILTIN.synthetic] as const;
export type BuiltinDatasetId = (typeof BUILTIN_DATASET_IDS)[number];

export function isBuiltinDataset(id: string): id is BuiltinDatasetId {
  return (BUILTIN_DATASET_IDS as readonly string[]).includes(id);
}
