/**
 * CSV datasets: a header row, one label column (any strings: they become class names, sorted so the
 * mapping does not depend on row order, numerically when all labels are numbers), numeric features.
 */
import { DataError } from '../errors.js';
import type { Dataset } from './types.js';

function splitRow(line: string): string[] {
  // Quoted fields are allowed (labels like "New York"); features are numbers, so no escaped newlines.
  const cells: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') cells.push(cur), (cur = '');
    else cur += ch;
  }
  cells.push(cur);
  return cells.map((c) => c.trim());
}

export function parseCsv(input: string | Uint8Array, options: { labelColumn?: string; name?: string } = {}): Dataset {
  const name = options.name ?? 'csv';
  const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new DataError('empty', `${name} is empty`);
  const header = splitRow(lines[0]!);
  const labelName = options.labelColumn ?? 'label';
  const labelAt = header.indexOf(labelName);
  if (labelAt < 0) throw new DataError('csv_bad_header', `${name}: no column named "${labelName}" in the header (${header.join(', ')})`);
  if (lines.length === 1) throw new DataError('empty', `${name} has a header but no rows`);
  if (header.length < 2) throw new DataError('csv_bad_header', `${name}: needs at least one feature column besides "${labelName}"`);
  const features = header.length - 1;
  const rows = lines.length - 1;
  const x = new Float32Array(rows * features);
  const rawLabels: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells = splitRow(lines[r + 1]!);
    const line = r + 2;
    if (cells.length !== header.length) throw new DataError('csv_ragged_row', `${name} line ${line}: ${cells.length} cells, header has ${header.length}`);
    let f = 0;
    for (const [c, cell] of cells.entries()) {
      if (c === labelAt) continue;
      const v = cell === '' ? NaN : Number(cell);
      if (Number.isNaN(v) && !/^nan$/i.test(cell)) {
        throw new DataError('csv_non_numeric', `${name} line ${line}, column "${header[c]}": "${cell}" is not a number`);
      }
      if (!Number.isFinite(v)) throw new DataError('non_finite', `${name} line ${line}, column "${header[c]}": ${cell} is not a finite number`);
      x[r * features + f++] = v;
    }
    const label = cells[labelAt]!;
    // A label becomes a class name, kept in reports and in Postgres, which cannot hold NUL.
    if (label.includes('\u0000')) throw new DataError('csv_bad_label', `${name} line ${line}, column "${labelName}": the label holds a NUL character`);
    rawLabels.push(label);
  }
  const distinct = [...new Set(rawLabels)];
  const numeric = distinct.every((l) => l !== '' && Number.isFinite(Number(l)));
  const classNames = numeric ? distinct.sort((a, b) => Number(a) - Number(b)) : distinct.sort();
  const index = new Map(classNames.map((c, i) => [c, i]));
  const y = Int32Array.from(rawLabels, (l) => index.get(l)!);
  return { shape: [features], classNames, train: { x, y } };
}
