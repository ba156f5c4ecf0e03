/**
 * CSV datasets: a header row, one label column (any strings: they become class names, sorted so the
 * mapping does not depend on row order, numerically when all labels are numbers), numeric features.
 * UTF-8 text only: a gzip, zip or UTF-16 file given as CSV is named as such, and no message quotes
 * more than a few dozen characters of what it was given.
 */
import { DataError } from '../errors.js';
import type { Dataset } from './types.js';

/** Longest class name (characters): a label is kept in every dataset object and report. */
export const MAX_CLASS_NAME_CHARS = 64;

export interface CsvOptions {
  labelColumn?: string;
  name?: string;
  /** Most distinct labels: more is refused as `too_many_classes` (MAX_CLASSES). */
  maxClasses?: number;
}

/** A short, quoted, printable excerpt of text from an upload, for a message. */
export function quoted(text: string, max = 40): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut).replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\ufffd]/gu, (c) =>
    Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}

/** `a, b, c, … (40 more)`: a list from an upload, shortened for a message. */
function listed(items: string[], max = 8): string {
  const shown = items
    .slice(0, max)
    .map((i) => quoted(i, 24))
    .join(', ');
  return items.length > max ? `${shown}, … (${items.length - max} more)` : shown;
}

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

/** Names what a binary file given as CSV evidently is, by its first bytes. */
function binaryKind(bytes: Uint8Array): string | undefined {
  const starts = (...magic: number[]) => magic.every((b, i) => bytes[i] === b);
  if (starts(0x1f, 0x8b)) return 'a gzip file: upload IDX .gz files, or the CSV unpacked (plain text)';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'a zip archive: upload the CSV itself, unpacked';
  if (starts(0x42, 0x5a, 0x68) || starts(0xfd, 0x37, 0x7a, 0x58, 0x5a) || starts(0x28, 0xb5, 0x2f, 0xfd))
    return 'a compressed file (bzip2, xz or zstd): upload the CSV unpacked';
  if (starts(0xff, 0xfe) || starts(0xfe, 0xff)) return 'UTF-16 text: save the CSV as UTF-8';
  if (bytes[0] === 0 && bytes[1] === 0 && (bytes[2] ?? 0) >= 0x08 && (bytes[2] ?? 0) <= 0x0e)
    return 'an IDX file: upload it as train_images or train_labels, not as csv';
  return undefined;
}

function decode(input: Uint8Array, name: string): string {
  const kind = binaryKind(input);
  if (kind) throw new DataError('csv_not_text', `${name} looks like ${kind}`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    throw new DataError('csv_not_text', `${name} is not UTF-8 text (it looks binary): upload a plain UTF-8 CSV`);
  }
}

export function parseCsv(input: string | Uint8Array, options: CsvOptions = {}): Dataset {
  const name = options.name ?? 'csv';
  const maxClasses = options.maxClasses ?? Infinity;
  const text = typeof input === 'string' ? input : decode(input, name);
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new DataError('empty', `${name} is empty`);
  const header = splitRow(lines[0]!);
  const labelName = options.labelColumn ?? 'label';
  const labelAt = header.indexOf(labelName);
  if (labelAt < 0) {
    const separator = header.length === 1 ? [';', '\t', '|'].find((c) => header[0]!.includes(c)) : undefined;
    const hint = separator ? `: the header is one column; columns are separated by commas, not ${JSON.stringify(separator)}` : '';
    throw new DataError('csv_bad_header', `${name}: no column named ${quoted(labelName)} in the header (${listed(header)})${hint}`);
  }
  if (lines.length === 1) throw new DataError('empty', `${name} has a header but no rows`);
  if (header.length < 2) throw new DataError('csv_bad_header', `${name}: needs at least one feature column besides ${quoted(labelName)}`);
  const features = header.length - 1;
  const rows = lines.length - 1;
  const x = new Float32Array(rows * features);
  const rawLabels: string[] = [];
  const distinct = new Set<string>();
  for (let r = 0; r < rows; r++) {
    const cells = splitRow(lines[r + 1]!);
    const line = r + 2;
    if (cells.length !== header.length) throw new DataError('csv_ragged_row', `${name} line ${line}: ${cells.length} cells, header has ${header.length}`);
    let f = 0;
    for (const [c, cell] of cells.entries()) {
      if (c === labelAt) continue;
      const v = cell === '' ? NaN : Number(cell);
      if (Number.isNaN(v) && !/^nan$/i.test(cell)) {
        throw new DataError('csv_non_numeric', `${name} line ${line}, column ${quoted(header[c]!)}: ${quoted(cell)} is not a number`);
      }
      if (!Number.isFinite(v)) throw new DataError('non_finite', `${name} line ${line}, column ${quoted(header[c]!)}: ${quoted(cell)} is not a finite number`);
      x[r * features + f++] = v;
    }
    const label = cells[labelAt]!;
    // A label becomes a class name, kept in reports and in Postgres, which cannot hold NUL.
    if (label.includes('\u0000')) throw new DataError('csv_bad_label', `${name} line ${line}, column ${quoted(labelName)}: the label holds a NUL character`);
    if (label.length > MAX_CLASS_NAME_CHARS) {
      throw new DataError(
        'csv_bad_label',
        `${name} line ${line}, column ${quoted(labelName)}: the label ${quoted(label)} has ${label.length} characters; class names have at most ${MAX_CLASS_NAME_CHARS}`,
      );
    }
    if (!distinct.has(label)) {
      distinct.add(label);
      if (distinct.size > maxClasses) {
        throw new DataError(
          'too_many_classes',
          `${name}: column ${quoted(labelName)} holds more than ${maxClasses} distinct labels (the server's limit, MAX_CLASSES) by line ${line}: is it the label column?`,
        );
      }
    }
    rawLabels.push(label);
  }
  const labels = [...distinct];
  const numeric = labels.every((l) => l !== '' && Number.isFinite(Number(l)));
  const classNames = numeric ? labels.sort((a, b) => Number(a) - Number(b)) : labels.sort();
  const index = new Map(classNames.map((c, i) => [c, i]));
  const y = Int32Array.from(rawLabels, (l) => index.get(l)!);
  return { shape: [features], classNames, train: { x, y } };
}
