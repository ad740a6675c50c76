/**
 * PDQ in the survivor's browser, bit-identical to reclaim.signals.pdq_core (and so to
 * Meta's C++ reference): the same luma, Jarosz box filter, 64x64 decimation, 16x64 DCT,
 * Torben's median and quality, giving the same 64 hex digits and the same quality.
 *
 * Why every step is wrapped in Math.fround or stored in a Float32Array: the reference
 * computes in float32, and float32 rounding after each operation is not associative --
 * (a + b) - c and a + (b - c) can differ in the last bit, and one different bit of one
 * running sum moves a DCT coefficient across the median and flips a hash bit. JavaScript
 * computes in float64; one float64 +, -, *, / or sqrt of two float32 values rounded back to
 * float32 is exactly the float32 operation (float64 has more than 2 * 24 + 2 bits), so
 * rounding after every single operation, in the reference's order, gives the same bits.
 * Never merge two operations before rounding, never reorder a sum.
 *
 * Pixels come as 8-bit RGB or RGBA (`channels` 3 or 4, row by row, no padding).
 */

const f32 = Math.fround;

/** Pictures with a side below this hash to all zeros with quality 0. */
export const MIN_HASHABLE_DIM = 5;

/**
 * sqrt(2/64) * cos(m * pi / 128) for m = 1..63, as float32: the only values the 16x64 DCT
 * matrix holds (up to sign). Written out rather than computed with Math.cos because
 * JavaScript does not promise the last bit of Math.cos, and browsers differ; these are the
 * float32 values of pdq_core.DCT_MATRIX (tests/web checks the whole matrix bit for bit).
 */
const COSINES = [
  0.17672345, 0.17656375, 0.17629771, 0.17592546, 0.17544726, 0.17486335, 0.17417413, 0.17337997,
  0.17248139, 0.17147891, 0.17037314, 0.16916475, 0.16785446, 0.16644305, 0.16493139, 0.16332036,
  0.16161098, 0.15980424, 0.15790124, 0.15590313, 0.1538111, 0.15162642, 0.14935042, 0.14698444,
  0.14452994, 0.14198837, 0.13936128, 0.13665023, 0.13385688, 0.13098289, 0.12803, 0.125,
  0.121894695, 0.11871597, 0.11546574, 0.112145945, 0.108758606, 0.10530575, 0.10178947, 0.09821187,
  0.09457511, 0.090881385, 0.08713291, 0.08333196, 0.079480805, 0.075581774, 0.07163722, 0.06764951,
  0.06362105, 0.059554275, 0.05545162, 0.051315565, 0.0471486, 0.042953234, 0.038731992,
  0.034487423, 0.030222077, 0.025938528, 0.021639355, 0.017327147, 0.0130045, 0.008674021,
  0.004338317,
];

/** @returns {Float32Array} row i, column j: sqrt(2/64) cos(pi/128 (i+1)(2j+1)), 16 x 64 */
function dctMatrix() {
  const out = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let m = ((i + 1) * (2 * j + 1)) % 256;
      let sign = 1;
      if (m > 128) m = 256 - m; // cos(2 pi - t) = cos(t)
      if (m > 64) {
        m = 128 - m; // cos(pi - t) = -cos(t)
        sign = -1;
      }
      out[i * 64 + j] = sign * COSINES[m - 1];
    }
  }
  return out;
}

export const DCT_MATRIX = dctMatrix();

/**
 * PDQ's luma: float32(r * 0.299 + g * 0.587 + b * 0.114), the sum computed in float64 (as
 * the reference does) and rounded once, by the Float32Array store.
 * @param {Uint8Array | Uint8ClampedArray} pixels @param {number} width @param {number} height
 * @param {number} [channels] 3 (RGB) or 4 (RGBA; alpha ignored)
 * @returns {Float32Array} height x width
 */
export function lumaOf(pixels, width, height, channels = 3) {
  const out = new Float32Array(width * height);
  for (let k = 0, p = 0; k < out.length; k++, p += channels) {
    out[k] = pixels[p] * 0.299 + pixels[p + 1] * 0.587 + pixels[p + 2] * 0.114;
  }
  return out;
}

/**
 * The rows [top, bottom) and columns [left, right) of a luma, as a new array.
 * @param {Float32Array} luma @param {number} width
 * @param {number} top @param {number} bottom @param {number} left @param {number} right
 * @returns {Float32Array}
 */
export function cropLuma(luma, width, top, bottom, left, right) {
  const cols = right - left;
  const out = new Float32Array((bottom - top) * cols);
  for (let y = top; y < bottom; y++) {
    out.set(luma.subarray(y * width + left, y * width + right), (y - top) * cols);
  }
  return out;
}

/** @param {number} old @param {number} wanted @returns {number} Jarosz window */
function windowSize(old, wanted) {
  return Math.floor((old + 2 * wanted - 1) / (2 * wanted));
}

/**
 * One Jarosz box pass along every row, with the reference's running sum: it grows over
 * the first half window, then adds the sample entering and subtracts the one leaving (two
 * roundings, in that order), then shrinks. dst = total / size, rounded by the store.
 * @param {Float32Array} src @param {Float32Array} dst
 * @param {number} rows @param {number} cols @param {number} window
 */
function boxRows(src, dst, rows, cols, window) {
  const half = Math.floor((window + 2) / 2);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let total = 0;
    let size = 0;
    let right = base;
    let left = base;
    let out = base;
    for (let k = 0; k < half - 1; k++) {
      total = f32(total + src[right++]);
      size++;
    }
    for (let k = 0; k < window - half + 1; k++) {
      size++;
      total = f32(total + src[right++]);
      dst[out++] = total / size;
    }
    for (let k = 0; k < cols - window; k++) {
      total = f32(total + src[right++]);
      total = f32(total - src[left++]);
      dst[out++] = total / size;
    }
    for (let k = 0; k < half - 1; k++) {
      size--;
      total = f32(total - src[left++]);
      dst[out++] = total / size;
    }
  }
}

/**
 * The same pass down each of the listed columns; the columns advance together, row by
 * row (each column's own order of additions is the reference's).
 * @param {Float32Array} src @param {Float32Array} dst
 * @param {number} rows @param {number} cols @param {number} window
 * @param {Int32Array} columns
 */
function boxCols(src, dst, rows, cols, window, columns) {
  const half = Math.floor((window + 2) / 2);
  const n = columns.length;
  const total = new Float32Array(n);
  let size = 0;
  let right = 0;
  let left = 0;
  let out = 0;
  for (let k = 0; k < half - 1; k++, right++) {
    for (let c = 0; c < n; c++) total[c] += src[right * cols + columns[c]];
    size++;
  }
  for (let k = 0; k < window - half + 1; k++, right++, out++) {
    size++;
    for (let c = 0; c < n; c++) {
      total[c] += src[right * cols + columns[c]];
      dst[out * cols + columns[c]] = total[c] / size;
    }
  }
  for (let k = 0; k < rows - window; k++, right++, left++, out++) {
    for (let c = 0; c < n; c++) {
      total[c] += src[right * cols + columns[c]];
      total[c] -= src[left * cols + columns[c]];
      dst[out * cols + columns[c]] = total[c] / size;
    }
  }
  for (let k = 0; k < half - 1; k++, left++, out++) {
    size--;
    for (let c = 0; c < n; c++) {
      total[c] -= src[left * cols + columns[c]];
      dst[out * cols + columns[c]] = total[c] / size;
    }
  }
}

/**
 * Jarosz-filter `luma` in place (two passes per axis; `other` is scratch of the same size)
 * and decimate to 64 x 64.
 * @param {Float32Array} luma @param {Float32Array} other
 * @param {number} rows @param {number} cols
 * @returns {Float32Array} 64 x 64
 */
export function downsample64(luma, other, rows, cols) {
  const out = new Float32Array(64 * 64);
  if (rows === 64 && cols === 64) {
    out.set(luma.subarray(0, 64 * 64));
    return out;
  }
  const picksR = new Int32Array(64);
  const picksC = new Int32Array(64);
  for (let k = 0; k < 64; k++) {
    picksR[k] = Math.floor(((k + 0.5) * rows) / 64);
    picksC[k] = Math.floor(((k + 0.5) * cols) / 64);
  }
  const allCols = new Int32Array(cols);
  for (let c = 0; c < cols; c++) allCols[c] = c;
  const winRows = windowSize(cols, 64);
  const winCols = windowSize(rows, 64);
  boxRows(luma, other, rows, cols, winRows);
  boxCols(other, luma, rows, cols, winCols, allCols);
  boxRows(luma, other, rows, cols, winRows);
  boxCols(other, luma, rows, cols, winCols, picksC); // only the columns decimation keeps
  for (let a = 0; a < 64; a++) {
    for (let b = 0; b < 64; b++) out[a * 64 + b] = luma[picksR[a] * cols + picksC[b]];
  }
  return out;
}

/**
 * PDQ's quality (0-100) of a 64 x 64 buffer: the sum of truncated vertical and horizontal
 * differences, in per cent of 255, over 90.
 * @param {Float32Array} buf @returns {number}
 */
export function qualityOf(buf) {
  let gradient = 0;
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) {
      const d = f32(buf[i * 64 + j] - buf[(i + 1) * 64 + j]);
      gradient += Math.abs(Math.trunc(f32(f32(d * 100) / 255)));
    }
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) {
      const d = f32(buf[i * 64 + j] - buf[i * 64 + j + 1]);
      gradient += Math.abs(Math.trunc(f32(f32(d * 100) / 255)));
    }
  }
  return Math.min(Math.floor(gradient / 90), 100);
}

/**
 * The 16 x 16 DCT coefficients of a 64 x 64 buffer: D B D^T, each dot product summed in
 * float32 in index order (product rounded, then sum rounded).
 * @param {Float32Array} buf @returns {Float32Array} 16 x 16, row by row
 */
export function dct16(buf) {
  const tmp = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let total = 0;
      for (let k = 0; k < 64; k++) {
        total = f32(total + f32(DCT_MATRIX[i * 64 + k] * buf[k * 64 + j]));
      }
      tmp[i * 64 + j] = total;
    }
  }
  const out = new Float32Array(16 * 16);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let total = 0;
      for (let k = 0; k < 64; k++) {
        total = f32(total + f32(tmp[i * 64 + k] * DCT_MATRIX[j * 64 + k]));
      }
      out[i * 16 + j] = total;
    }
  }
  return out;
}

/**
 * Torben's median (as the reference finds it: by bisection on values, not by sorting).
 * @param {Float32Array} values @returns {number}
 */
export function torbenMedian(values) {
  const n = values.length;
  let lo = values[0];
  let hi = values[0];
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const half = Math.floor((n + 1) / 2);
  let less = 0;
  let greater = 0;
  let equal = 0;
  let guess = 0;
  let maxLt = lo;
  let minGt = hi;
  for (;;) {
    guess = f32(f32(lo + hi) / 2);
    less = greater = equal = 0;
    maxLt = lo;
    minGt = hi;
    for (const v of values) {
      if (v < guess) {
        less++;
        maxLt = Math.max(maxLt, v);
      } else if (v > guess) {
        greater++;
        minGt = Math.min(minGt, v);
      } else {
        equal++;
      }
    }
    if (less <= half && greater <= half) break;
    if (less > greater) hi = maxLt;
    else lo = minGt;
  }
  if (less >= half) return maxLt;
  if (less + equal >= half) return guess;
  return minGt;
}

/**
 * Hash bits in reference order: bit 16 i + j is set when coefficient [i][j] is above the
 * median.
 * @param {Float32Array} dct @returns {Uint8Array} 256 zeros and ones
 */
export function bitsFromDct16(dct) {
  const median = torbenMedian(dct);
  const bits = new Uint8Array(256);
  for (let k = 0; k < 256; k++) bits[k] = dct[k] > median ? 1 : 0;
  return bits;
}

/**
 * Reference hex of 256 bits in index order: the 256-bit integer whose bit k is bits[k],
 * big-endian (bit 255 is the first digit's highest).
 * @param {Uint8Array} bits @returns {string} 64 hex digits
 */
export function bitsToHex(bits) {
  let out = "";
  for (let d = 0; d < 64; d++) {
    const k = 255 - 4 * d;
    out += ((bits[k] << 3) | (bits[k - 1] << 2) | (bits[k - 2] << 1) | bits[k - 3]).toString(16);
  }
  return out;
}

/** @param {Float32Array} dct @returns {string} */
export function hexFromDct16(dct) {
  return bitsToHex(bitsFromDct16(dct));
}

/**
 * The DCT and quality of a luma, as dct16_from_luma computes them; `luma` is kept.
 * @param {Float32Array} luma @param {number} width @param {number} height
 * @returns {{dct: Float32Array, quality: number}}
 */
export function dct16FromLuma(luma, width, height) {
  if (height < MIN_HASHABLE_DIM || width < MIN_HASHABLE_DIM) {
    return { dct: new Float32Array(256), quality: 0 };
  }
  const work = Float32Array.from(luma); // filtering works in place
  const buf = downsample64(work, new Float32Array(work.length), height, width);
  return { dct: dct16(buf), quality: qualityOf(buf) };
}

/**
 * PDQ of a luma (:func:`lumaOf`).
 * @param {Float32Array} luma @param {number} width @param {number} height
 * @returns {{value: string, quality: number}}
 */
export function pdqFromLuma(luma, width, height) {
  const { dct, quality } = dct16FromLuma(luma, width, height);
  return { value: hexFromDct16(dct), quality };
}

/**
 * PDQ of RGB(A) pixels, bit-identical to reclaim.signals.pdq.pdq_from_rgb.
 * @param {Uint8Array | Uint8ClampedArray} pixels
 * @param {number} width @param {number} height @param {number} [channels]
 * @returns {{value: string, quality: number}}
 */
export function pdqFromRgb(pixels, width, height, channels = 3) {
  return pdqFromLuma(lumaOf(pixels, width, height, channels), width, height);
}

/**
 * The 8 rotations and mirrors, in the order a PDQ signal lists them: which mirror of the
 * luma to hash, and whether to transpose its DCT (a transpose of the pixels is exactly a
 * transpose of the DCT, as both axes are filtered alike; mirrors are not).
 * @type {Record<string, [string, boolean]>}
 */
const EXACT = {
  original: ["none", false],
  rot90: ["left-right", true],
  rot180: ["both", false],
  rot270: ["up-down", true],
  flipx: ["up-down", false],
  flipy: ["left-right", false],
  flipplus1: ["none", true],
  flipminus1: ["both", true],
};

export const DIHEDRAL_NAMES = Object.keys(EXACT);

/**
 * @param {Float32Array} luma @param {number} width @param {number} height
 * @param {string} mirror "none", "left-right", "up-down" or "both"
 * @returns {Float32Array}
 */
function mirrored(luma, width, height, mirror) {
  const out = new Float32Array(luma.length);
  const flipRows = mirror === "up-down" || mirror === "both";
  const flipCols = mirror === "left-right" || mirror === "both";
  for (let i = 0; i < height; i++) {
    const from = (flipRows ? height - 1 - i : i) * width;
    for (let j = 0; j < width; j++) {
      out[i * width + j] = luma[from + (flipCols ? width - 1 - j : j)];
    }
  }
  return out;
}

/** @param {Float32Array} dct @returns {Float32Array} */
function transposed(dct) {
  const out = new Float32Array(256);
  for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) out[j * 16 + i] = dct[i * 16 + j];
  return out;
}

/**
 * The hashes of the picture turned and mirrored 8 ways (DIHEDRAL_NAMES order), each
 * equal to hashing the turned pixels, and the quality: four filterings, not eight.
 * @param {Float32Array} luma @param {number} width @param {number} height
 * @returns {{values: string[], quality: number}}
 */
export function dihedralFromLuma(luma, width, height) {
  if (height < MIN_HASHABLE_DIM || width < MIN_HASHABLE_DIM) {
    return { values: DIHEDRAL_NAMES.map(() => "0".repeat(64)), quality: 0 };
  }
  /** @type {Map<string, Float32Array>} */
  const dcts = new Map();
  let quality = 0;
  const other = new Float32Array(luma.length);
  for (const mirror of ["none", "left-right", "up-down", "both"]) {
    const work = mirrored(luma, width, height, mirror);
    const buf = downsample64(work, other, height, width);
    dcts.set(mirror, dct16(buf));
    if (mirror === "none") quality = qualityOf(buf);
  }
  const values = Object.values(EXACT).map(([mirror, turn]) => {
    const dct = /** @type {Float32Array} */ (dcts.get(mirror));
    return hexFromDct16(turn ? transposed(dct) : dct);
  });
  return { values, quality };
}
