/** A figure for a report: `digits` decimals, no float noise in the JSON. */
export const round = (v: number, digits = 4) => Math.round(v * 10 ** digits) / 10 ** digits;
