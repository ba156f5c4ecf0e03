import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

export type IdPrefix = 'job' | 'ds' | 'mdl' | 'art' | 'key' | 'ten' | 'whd';

/**
 * Typed, time-sortable ids (`job_01hx…`): 10 characters of milliseconds then 16 random ones, so ids
 * sort by creation time and serve directly as pagination cursors.
 */
export function newId(prefix: IdPrefix, now = Date.now()): string {
  let time = '';
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = ALPHABET[t % 32] + time;
  const random = Array.from(randomBytes(16), (b) => ALPHABET[b % 32]).join('');
  return `${prefix}_${time}${random}`;
}

const ID_PATTERN = /^[a-z]+_[0-9a-z]{26}$/;

export function isId(prefix: IdPrefix, value: string): boolean {
  return value.startsWith(`${prefix}_`) && ID_PATTERN.test(value);
}
