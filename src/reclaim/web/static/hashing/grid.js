/**
 * The grid a banked picture carries: PDQ of nine overlapping cells, as
 * reclaim.signals.pdq_grid computes it (a documented protocol; see that module for why).
 *
 * Cell (a, b), a and b in 0, 1, 2, covers rows [a * H // 4, a * H // 4 + H // 2) and
 * columns [b * W // 4, b * W // 4 + W // 2) of the pixels as given, listed row by row;
 * its hash is the reference PDQ of that crop of the picture's luma.
 */

import { MIN_HASHABLE_DIM, cropLuma, dct16FromLuma, hexFromDct16 } from "./pdq.js";

export const GRID_CELLS = [
  "top-left",
  "top",
  "top-right",
  "left",
  "centre",
  "right",
  "bottom-left",
  "bottom",
  "bottom-right",
];

/**
 * @typedef {{value: string, quality: number}} Cell
 * @typedef {{cells: Cell[], size: [number, number], anchored?: string}} GridJson
 *   size is [width, height]; anchored is added by the caller when there are regions
 */

/**
 * [top, bottom, left, right] of each cell, in GRID_CELLS order.
 * @param {number} height @param {number} width
 * @returns {Array<[number, number, number, number]>}
 */
export function cellBounds(height, width) {
  /** @type {Array<[number, number, number, number]>} */
  const out = [];
  const h2 = Math.floor(height / 2);
  const w2 = Math.floor(width / 2);
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) {
      const top = Math.floor((a * height) / 4);
      const left = Math.floor((b * width) / 4);
      out.push([top, top + h2, left, left + w2]);
    }
  }
  return out;
}

/**
 * The nine cells' PDQ of a luma (pdq.js lumaOf). A picture too small to cut into
 * hashable cells gets cells of quality 0, which never count.
 * @param {Float32Array} luma @param {number} width @param {number} height
 * @returns {GridJson}
 */
export function gridOfLuma(luma, width, height) {
  if (Math.floor(Math.min(height, width) / 2) < MIN_HASHABLE_DIM) {
    return {
      cells: GRID_CELLS.map(() => ({ value: "0".repeat(64), quality: 0 })),
      size: [width, height],
    };
  }
  const cells = cellBounds(height, width).map(([top, bottom, left, right]) => {
    const crop = cropLuma(luma, width, top, bottom, left, right);
    const { dct, quality } = dct16FromLuma(crop, right - left, bottom - top);
    return { value: hexFromDct16(dct), quality };
  });
  return { cells, size: [width, height] };
}
