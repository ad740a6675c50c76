/**
 * The anchored regions a banked picture carries: PDQ of parts of the picture placed by
 * points the picture itself defines, so that crops and small turns are still found. The
 * protocol is reclaim.signals.pdq_anchors (read it for the why); this is the same
 * arithmetic, step for step, so that the browser sends what the server would compute:
 *
 * 1. the luma reduced to WORK_SIDE on the longer side (block means, summed row by row);
 * 2. six blurs, each three running box passes along rows then three down columns;
 * 3. anchors: extrema of the three middle differences of blurs, refined by parabolas;
 * 4. regions: the square between each pair of anchors, sampled bilinearly at 64 x 64,
 *    hashed with PDQ's DCT, median and quality, stored the way round that makes the sum
 *    of the coefficients that change sign under a half turn non-negative.
 *
 * Only float32 additions, products, quotients and square roots, each rounded at once
 * (Math.fround or a Float32Array store) in the protocol's order: no transcendental
 * function, so every browser computes the same bits (see pdq.js for why the order matters).
 */

import { bitsToHex, bitsFromDct16, dct16, qualityOf } from "./pdq.js";

const f32 = Math.fround;

export const WORK_SIDE = 256;
export const BOX_WIDTHS = [7, 9, 13, 17, 25, 35];
export const MIN_RESPONSE = 0.5;
export const EDGE_RATIO = 10.0;
export const MAX_ANCHORS = 16;
export const PAIR_RANGE = [0.2, 0.8];
export const PATCH_SCALE = 0.75;
export const MAX_REGIONS = 48;

/**
 * @typedef {{value: string, quality: number, anchors: number[]}} AnchoredRegion
 *   anchors: [px, py, qx, qy] in working pixels, rounded to hundredths as stored
 * @typedef {{strength: number, x: number, y: number}} Anchor
 */

/**
 * [rows, cols] of the working luma of a picture height x width.
 * @param {number} height @param {number} width @param {number} [side]
 * @returns {[number, number]}
 */
export function workingShape(height, width, side = WORK_SIDE) {
  const longer = Math.max(height, width);
  const half = Math.floor(longer / 2);
  return [
    Math.max(1, Math.floor((height * side + half) / longer)),
    Math.max(1, Math.floor((width * side + half) / longer)),
  ];
}

/**
 * Step 1: block means (at least one pixel each: the nearest when enlarging).
 * @param {Float32Array} luma @param {number} width @param {number} height
 * @returns {{work: Float32Array, rows: number, cols: number}}
 */
export function workingLuma(luma, width, height) {
  const [rows, cols] = workingShape(height, width);
  const work = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const top = Math.floor((i * height) / rows);
    const bottom = Math.max(top + 1, Math.floor(((i + 1) * height) / rows));
    for (let j = 0; j < cols; j++) {
      const left = Math.floor((j * width) / cols);
      const right = Math.max(left + 1, Math.floor(((j + 1) * width) / cols));
      let total = 0;
      for (let y = top; y < bottom; y++) {
        for (let x = left; x < right; x++) total = f32(total + luma[y * width + x]);
      }
      work[i * cols + j] = total / ((bottom - top) * (right - left));
    }
  }
  return { work, rows, cols };
}

/**
 * A running box mean along one line, edges clamped: add the sample entering, then
 * subtract the one leaving, times the float32 reciprocal of the width.
 * @param {Float32Array} src @param {Float32Array} dst @param {number} n @param {number} width
 */
function boxLine(src, dst, n, width) {
  const radius = Math.floor(width / 2);
  const inv = f32(1 / width);
  let total = 0;
  for (let t = -radius; t <= radius; t++) total = f32(total + src[Math.min(Math.max(t, 0), n - 1)]);
  dst[0] = total * inv;
  for (let i = 1; i < n; i++) {
    total = f32(total + src[Math.min(i + radius, n - 1)]);
    total = f32(total - src[Math.max(i - radius - 1, 0)]);
    dst[i] = total * inv;
  }
}

/**
 * Three box passes along every row, then three down every column.
 * @param {Float32Array} image @param {number} rows @param {number} cols @param {number} width
 * @returns {Float32Array}
 */
function blur(image, rows, cols, width) {
  const across = new Float32Array(image.length);
  const out = new Float32Array(image.length);
  const a = new Float32Array(Math.max(rows, cols));
  const b = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    a.set(image.subarray(r * cols, (r + 1) * cols));
    boxLine(a, b, cols, width);
    boxLine(b, a, cols, width);
    boxLine(a, b, cols, width);
    across.set(b.subarray(0, cols), r * cols);
  }
  for (let c = 0; c < cols; c++) {
    for (let r = 0; r < rows; r++) a[r] = across[r * cols + c];
    boxLine(a, b, rows, width);
    boxLine(b, a, rows, width);
    boxLine(a, b, rows, width);
    for (let r = 0; r < rows; r++) out[r * cols + c] = b[r];
  }
  return out;
}

/**
 * Strictly above (or below) all 26 neighbours in place and scale.
 * @param {Float32Array[]} dog @param {number} k @param {number} at @param {number} cols
 */
function isExtremum(dog, k, at, cols) {
  const v = dog[k][at];
  for (const dk of [0, -1, 1]) {
    const level = dog[k + dk];
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        if (dk === 0 && dy === 0 && dx === 0) continue;
        const w = level[at + dy * cols + dx];
        if ((v > 0 && w >= v) || (v < 0 && w <= v)) return false;
      }
    }
  }
  return true;
}

/**
 * Where a parabola through three samples peaks, relative to the middle, in [-0.5, 0.5].
 * @param {number} before @param {number} at @param {number} after
 */
function offset(before, at, after) {
  const second = f32(f32(before - f32(2 * at)) + after);
  if (second === 0) return 0;
  const off = f32(f32(before - after) / f32(2 * second));
  return Math.min(Math.max(off, -0.5), 0.5);
}

/**
 * Steps 2-3: every anchor of a working luma, strongest first (ties: top to bottom, left
 * to right; then in the order found).
 * @param {Float32Array} work @param {number} rows @param {number} cols
 * @returns {Anchor[]}
 */
export function allAnchors(work, rows, cols) {
  const last = BOX_WIDTHS[BOX_WIDTHS.length - 1];
  if (Math.min(rows, cols) <= Math.floor((2 * last) / 2) + 2) return [];
  const blurred = BOX_WIDTHS.map((width) => blur(work, rows, cols, width));
  const dog = blurred.slice(1).map((next, k) => {
    const out = new Float32Array(work.length);
    for (let p = 0; p < out.length; p++) out[p] = next[p] - blurred[k][p];
    return out;
  });
  /** @type {Anchor[]} */
  const found = [];
  const floor = f32(MIN_RESPONSE);
  const edge = f32(((EDGE_RATIO + 1) * (EDGE_RATIO + 1)) / EDGE_RATIO);
  for (let k = 1; k < BOX_WIDTHS.length - 2; k++) {
    const margin = Math.floor(BOX_WIDTHS[k + 1] / 2) + 1;
    const d = dog[k];
    for (let y = margin; y < rows - margin; y++) {
      for (let x = margin; x < cols - margin; x++) {
        const at = y * cols + x;
        const v = d[at];
        if (Math.abs(v) < floor || !isExtremum(dog, k, at, cols)) continue;
        const dxx = f32(f32(d[at + 1] - f32(2 * v)) + d[at - 1]);
        const dyy = f32(f32(d[at + cols] - f32(2 * v)) + d[at - cols]);
        const corners = f32(
          f32(f32(d[at + cols + 1] - d[at + cols - 1]) - d[at - cols + 1]) + d[at - cols - 1],
        );
        const dxy = f32(corners / 4);
        const trace = f32(dxx + dyy);
        const det = f32(f32(dxx * dyy) - f32(dxy * dxy));
        if (det <= 0 || f32(trace * trace) >= f32(edge * det)) continue;
        const ox = offset(d[at - 1], v, d[at + 1]);
        const oy = offset(d[at - cols], v, d[at + cols]);
        found.push({ strength: Math.abs(v), x: f32(x + ox), y: f32(y + oy) });
      }
    }
  }
  // Array.prototype.sort is stable: full ties keep the order found, as np.lexsort does.
  return found.sort((p, q) => q.strength - p.strength || p.y - q.y || p.x - q.x);
}

/**
 * Sample the square between anchors p and q into buf (64 x 64); false when it does not
 * lie inside the picture.
 * @param {Float32Array} work @param {number} rows @param {number} cols
 * @param {number} px @param {number} py @param {number} qx @param {number} qy
 * @param {Float32Array} buf
 */
function sample(work, rows, cols, px, py, qx, qy, buf) {
  const dx = f32(qx - px);
  const dy = f32(qy - py);
  const dist = f32(Math.sqrt(f32(f32(dx * dx) + f32(dy * dy))));
  const ex = f32(dx / dist);
  const ey = f32(dy / dist);
  const step = f32(f32(f32(PATCH_SCALE) * dist) / 64);
  const cx = f32(f32(px + qx) / 2);
  const cy = f32(f32(py + qy) / 2);
  /** @param {number} u @param {number} v @returns {[number, number]} */
  const at = (u, v) => {
    const a = f32(f32(u - 31.5) * step);
    const b = f32(f32(v - 31.5) * step);
    return [f32(f32(cx + f32(a * ex)) - f32(b * ey)), f32(f32(cy + f32(a * ey)) + f32(b * ex))];
  };
  for (const [u, v] of [
    [0, 0],
    [63, 0],
    [0, 63],
    [63, 63],
  ]) {
    const [x, y] = at(u, v);
    if (x < 0 || y < 0 || x > cols - 1 || y > rows - 1) return false;
  }
  for (let v = 0; v < 64; v++) {
    for (let u = 0; u < 64; u++) {
      const [x, y] = at(u, v);
      const x0 = Math.min(Math.trunc(x), cols - 2);
      const y0 = Math.min(Math.trunc(y), rows - 2);
      const fx = f32(x - x0);
      const fy = f32(y - y0);
      const p = y0 * cols + x0;
      const top = f32(f32(f32(1 - fx) * work[p]) + f32(fx * work[p + 1]));
      const bottom = f32(f32(f32(1 - fx) * work[p + cols]) + f32(fx * work[p + cols + 1]));
      buf[v * 64 + u] = f32(f32(1 - fy) * top) + f32(fy * bottom);
    }
  }
  return true;
}

/**
 * Sum of the coefficients that change sign when a region is turned by 180 degrees (odd
 * i + j), in float32, row by row.
 * @param {Float32Array} dct @returns {number}
 */
export function handedness(dct) {
  let total = 0;
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) if ((i + j) % 2) total = f32(total + dct[i * 16 + j]);
  }
  return total;
}

/**
 * Python's round(round(v, 2) * 100), as anchored_regions and regions_to_json store an
 * anchor: v is a float32, so v * 100 is exact in float64 and rounding it half to even is
 * Python's correctly rounded round(v, 2); for v = n / 100, v * 100 rounds back to n.
 * @param {number} v @returns {number}
 */
function hundredths(v) {
  const scaled = v * 100;
  const low = Math.floor(scaled);
  const rest = scaled - low;
  if (rest > 0.5 || (rest === 0.5 && low % 2 !== 0)) return low + 1;
  return low;
}

/**
 * The anchored regions a banked picture carries, from its luma (pdq.js lumaOf).
 * @param {Float32Array} luma @param {number} width @param {number} height
 * @returns {AnchoredRegion[]}
 */
export function anchoredRegions(luma, width, height) {
  const { work, rows, cols } = workingLuma(luma, width, height);
  const anchors = allAnchors(work, rows, cols).slice(0, MAX_ANCHORS);
  const lo = f32(f32(PAIR_RANGE[0]) * WORK_SIDE);
  const hi = f32(f32(PAIR_RANGE[1]) * WORK_SIDE);
  /** @type {AnchoredRegion[]} */
  const out = [];
  const buf = new Float32Array(64 * 64);
  for (let i = 0; i < anchors.length && out.length < MAX_REGIONS; i++) {
    for (let j = i + 1; j < anchors.length && out.length < MAX_REGIONS; j++) {
      const { x: px, y: py } = anchors[i];
      const { x: qx, y: qy } = anchors[j];
      const dx = f32(qx - px);
      const dy = f32(qy - py);
      const dist = f32(Math.sqrt(f32(f32(dx * dx) + f32(dy * dy))));
      if (dist < lo || dist > hi) continue;
      if (!sample(work, rows, cols, px, py, qx, qy, buf)) continue;
      const quality = qualityOf(buf);
      const dct = dct16(buf);
      let where = [px, py, qx, qy].map(hundredths);
      if (handedness(dct) < 0) {
        for (let k = 0; k < 256; k++) if ((Math.floor(k / 16) + (k % 16)) % 2) dct[k] = -dct[k];
        where = [where[2], where[3], where[0], where[1]];
      }
      out.push({
        value: bitsToHex(bitsFromDct16(dct)),
        quality,
        anchors: where.map((n) => n / 100),
      });
    }
  }
  return out;
}

/**
 * The stored form (pdq_anchors.regions_to_json): base64 of 41-byte records, the PDQ (32
 * bytes), the quality (1), the anchors (4 x uint16 big-endian, in hundredths).
 * @param {AnchoredRegion[]} regions @returns {string}
 */
export function regionsToJson(regions) {
  const bytes = new Uint8Array(41 * regions.length);
  regions.forEach((region, n) => {
    const at = 41 * n;
    for (let k = 0; k < 32; k++) bytes[at + k] = parseInt(region.value.slice(2 * k, 2 * k + 2), 16);
    bytes[at + 32] = region.quality;
    region.anchors.forEach((v, k) => {
      const packed = hundredths(v);
      bytes[at + 33 + 2 * k] = packed >> 8;
      bytes[at + 34 + 2 * k] = packed & 0xff;
    });
  });
  let text = "";
  for (let k = 0; k < bytes.length; k += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
  }
  return btoa(text);
}
