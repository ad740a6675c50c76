/**
 * Hash one of the survivor's files in her browser: what reclaim.signals.filehash computes
 * on the server, so that only hashes leave her device.
 *
 * A picture gets the signal a banked picture carries (PDQ, quality, its 8 rotations and
 * mirrors, the grid and the anchored regions), then SHA-256 and MD5 of the file's bytes; a
 * video gets its vPDQ when the caller supplies a frame sampler (`sampleVideo`: video.js on
 * a page; a worker has no <video>), then SHA-256 and MD5 (StopNCII's video hash). The
 * decoded pixels of a picture go through the server's own steps: EXIF orientation
 * applied, transparency over white, no colour management (Pillow applies none), and a very
 * large picture reduced by the same integer box filter (Pillow's Image.reduce). Files the
 * browser cannot open raise a HashingError with a stable `kind` and a message that says
 * what to do.
 */

import { anchoredRegions, regionsToJson } from "./anchors.js";
import { gridOfLuma } from "./grid.js";
import { Md5 } from "./md5.js";
import { Sha256 } from "./sha256.js";
import { dihedralFromLuma, lumaOf } from "./pdq.js";

export const MAX_IMAGE_BYTES = 200 * 1024 * 1024;
/** Settings.media_max_video_bytes */
export const MAX_VIDEO_BYTES = 4096 * 1024 * 1024;
export const MAX_PIXELS = 178_000_000;
/** Files up to this size get WebCrypto's SHA-256 (one buffer); larger ones sha256.js. */
export const WHOLE_SHA256_BYTES = 64 * 1024 * 1024;
export const CHUNK_BYTES = 4 * 1024 * 1024;
/** Pictures whose shorter side is at least twice this are reduced (media.image). */
export const HASH_MIN_SIDE = 1024;

export class HashingError extends Error {
  /** @param {string} kind as reclaim.media.errors names it @param {string} message */
  constructor(kind, message) {
    super(message);
    this.name = "HashingError";
    this.kind = kind;
  }
}

const HEIC_HELP =
  "This browser cannot open HEIC/HEIF photos (the iPhone's usual format). On the iPhone, " +
  'share the photo with Options > "Most Compatible" (or set Settings > Camera > Formats > ' +
  '"Most Compatible"), or save it as JPEG, then choose it again.';

const VIDEO_FORMATS = ["avi", "matroska", "flv", "mpegts", "mp4"];

/**
 * The format and kind of a file from its first bytes, as reclaim.media.sniff reads them
 * (names and types given by the browser are ignored, as the server ignores them).
 * @param {Uint8Array} head
 * @returns {{format: string, kind: "image" | "video"}}
 */
export function sniff(head) {
  if (!head.length) throw new HashingError("empty_file", "the file is empty");
  const format = formatOf(head, (from, to) => String.fromCharCode(...head.subarray(from, to)));
  if (!format) {
    throw new HashingError("unsupported_type", "not a picture or a video this page can hash");
  }
  return { format, kind: VIDEO_FORMATS.includes(format) ? "video" : "image" };
}

/**
 * @param {Uint8Array} head @param {(from: number, to: number) => string} text
 * @returns {string | null}
 */
function formatOf(head, text) {
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return "jpeg";
  if (text(0, 8) === "\x89PNG\r\n\x1a\n") return "png";
  if (text(0, 6) === "GIF87a" || text(0, 6) === "GIF89a") return "gif";
  if (text(0, 4) === "RIFF" && text(8, 12) === "WEBP") return "webp";
  if (text(0, 4) === "RIFF" && text(8, 12) === "AVI ") return "avi";
  if (text(0, 2) === "BM" && head.length >= 26 && [12, 40, 64, 108, 124].includes(head[14])) {
    return "bmp"; // byte 14 is the DIB header's size
  }
  if (text(0, 4) === "II*\0" || text(0, 4) === "MM\0*") return "tiff";
  if (text(0, 4) === "\x1a\x45\xdf\xa3") return "matroska";
  if (text(0, 3) === "FLV" && head[3] === 1) return "flv";
  if ([0, 4].some((at) => [0, 1, 2].every((i) => head[at + i * (at ? 192 : 188)] === 0x47))) {
    return "mpegts";
  }
  const box = text(4, 8);
  if (head.length >= 12 && ["ftyp", "moov", "mdat", "wide", "free", "skip", "pnot"].includes(box)) {
    return box === "ftyp" && isHeif(head, text) ? "heif" : "mp4";
  }
  return null;
}

/**
 * @param {Uint8Array} head @param {(from: number, to: number) => string} text
 * @returns {boolean} an ftyp box of a still image (HEIC, HEIF)
 */
function isHeif(head, text) {
  const heif = ["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"];
  if (heif.includes(text(8, 12))) return true;
  const size = ((head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]) >>> 0;
  const brands = new Set();
  for (let at = 16; at < Math.min(size, head.length) - 3; at += 4) brands.add(text(at, at + 4));
  const still = ["heic", "heix", "mif1"].some((b) => brands.has(b));
  const moving = ["isom", "mp41", "mp42", "avc1", "iso2", "qt  ", "3gp4", "3gp5"];
  return still && !moving.some((b) => brands.has(b));
}

/**
 * Width and height from a picture's header, read before decoding so that a small file
 * claiming a huge picture (a decompression bomb) is refused, as media.image refuses it;
 * null when the header does not say (the decoder's own limits then apply).
 * @param {Uint8Array} head the first bytes (JPEG headers can come after large EXIF blocks)
 * @param {string} format
 * @returns {[number, number] | null}
 */
export function headerSize(head, format) {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const fits = (/** @type {number} */ end) => end <= head.length;
  if (format === "png" && fits(24)) return [view.getUint32(16), view.getUint32(20)];
  if (format === "gif" && fits(10)) return [view.getUint16(6, true), view.getUint16(8, true)];
  if (format === "bmp" && fits(26)) {
    if (head[14] === 12) return [view.getUint16(18, true), view.getUint16(20, true)];
    return [Math.abs(view.getInt32(18, true)), Math.abs(view.getInt32(22, true))];
  }
  if (format === "webp" && fits(30)) {
    const chunk = String.fromCharCode(...head.subarray(12, 16));
    const u24 = (/** @type {number} */ at) => head[at] | (head[at + 1] << 8) | (head[at + 2] << 16);
    if (chunk === "VP8X") return [u24(24) + 1, u24(27) + 1];
    if (chunk === "VP8 ") {
      return [view.getUint16(26, true) & 0x3fff, view.getUint16(28, true) & 0x3fff];
    }
    if (chunk === "VP8L") {
      const bits = view.getUint32(21, true);
      return [(bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1];
    }
  }
  if (format === "jpeg") return jpegSize(view);
  return null;
}

/** @param {DataView} view @returns {[number, number] | null} from the first SOFn segment */
function jpegSize(view) {
  let at = 2;
  while (at + 9 <= view.byteLength) {
    if (view.getUint8(at) !== 0xff) return null;
    const marker = view.getUint8(at + 1);
    if (marker === 0xff) {
      at += 1; // fill byte
    } else if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2; // no length
    } else if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return [view.getUint16(at + 7), view.getUint16(at + 5)];
    } else if (marker === 0xda || marker === 0xd9) {
      return null;
    } else {
      at += 2 + view.getUint16(at + 2);
    }
  }
  return null;
}

/**
 * Pillow's Image.reduce(factor) of RGBA rows (alpha ignored, output opaque): each output
 * pixel is the mean of its factor x factor block (smaller at the right and bottom edges),
 * rounded as Pillow's fixed-point arithmetic rounds it.
 * @param {Uint8ClampedArray} src rows [y0, y0 + rowsIn) of a picture `width` wide
 * @param {number} width @param {number} rowsIn @param {number} factor
 * @param {Uint8ClampedArray} dst @param {number} dstRow first output row to write
 */
export function reduceRows(src, width, rowsIn, factor, dst, dstRow) {
  const outW = Math.ceil(width / factor);
  const sums = new Float64Array(3);
  for (let y = 0; y * factor < rowsIn; y++) {
    const y1 = Math.min((y + 1) * factor, rowsIn);
    for (let x = 0; x < outW; x++) {
      const x1 = Math.min((x + 1) * factor, width);
      const n = (y1 - y * factor) * (x1 - x * factor);
      // division_UINT32 in Reduce.c: 2^32 / (256 n), in float32, truncated
      const multiplier = Math.trunc(Math.fround(4294967296 / Math.fround(256 * n)));
      sums.fill(Math.floor(n / 2));
      for (let yy = y * factor; yy < y1; yy++) {
        for (let xx = x * factor, p = (yy * width + xx) * 4; xx < x1; xx++, p += 4) {
          sums[0] += src[p];
          sums[1] += src[p + 1];
          sums[2] += src[p + 2];
        }
      }
      const q = ((dstRow + y) * outW + x) * 4;
      for (let c = 0; c < 3; c++) dst[q + c] = Math.floor((sums[c] * multiplier) / 16777216);
      dst[q + 3] = 255;
    }
  }
}

/**
 * Decode a picture to RGBA as the server would see it (reduced when very large).
 * @param {Blob} file @param {string} format
 * @returns {Promise<{pixels: Uint8ClampedArray, width: number, height: number}>}
 */
export async function decodeImage(file, format) {
  /** @type {ImageBitmap} */
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, {
      imageOrientation: "from-image",
      colorSpaceConversion: "none",
    });
  } catch (error) {
    if (format === "heif") throw new HashingError("unsupported_type", HEIC_HELP);
    if (format === "tiff") {
      throw new HashingError(
        "unsupported_type",
        "this browser cannot open TIFF files: save the picture as JPEG or PNG and choose it again",
      );
    }
    throw new HashingError(
      "corrupt",
      `the picture cannot be decoded (damaged or incomplete ${format.toUpperCase()})`,
    );
  }
  const { width, height } = bitmap;
  try {
    if (width * height > MAX_PIXELS) {
      throw new HashingError(
        "too_large",
        `the picture has ${width * height} pixels, over the limit of ${MAX_PIXELS}`,
      );
    }
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext("2d", { willReadFrequently: true });
    if (!context) throw new HashingError("too_large", "not enough memory to decode the picture");
    context.fillStyle = "#ffffff"; // transparency over white, as the server composites it
    context.fillRect(0, 0, width, height);
    context.drawImage(bitmap, 0, 0);
    return readPixels(context, width, height);
  } catch (error) {
    if (error instanceof HashingError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new HashingError("too_large", `not enough memory to read the picture here (${reason})`);
  } finally {
    bitmap.close();
  }
}

/**
 * The canvas's pixels, reduced like media.image._reduce_for_hashing when the shorter side
 * is at least 2 * HASH_MIN_SIDE; read in strips, so the full-size RGBA copy never exists.
 * @param {OffscreenCanvasRenderingContext2D} context @param {number} width @param {number} height
 */
function readPixels(context, width, height) {
  const factor = Math.floor(Math.min(width, height) / HASH_MIN_SIDE);
  if (factor < 2) return { pixels: context.getImageData(0, 0, width, height).data, width, height };
  const outW = Math.ceil(width / factor);
  const outH = Math.ceil(height / factor);
  const pixels = new Uint8ClampedArray(outW * outH * 4);
  const strip = factor * Math.max(1, Math.floor(256 / factor));
  for (let y = 0; y < height; y += strip) {
    const rows = Math.min(strip, height - y);
    const data = context.getImageData(0, y, width, rows).data;
    reduceRows(data, width, rows, factor, pixels, y / factor);
  }
  return { pixels, width: outW, height: outH };
}

/**
 * The PDQ signal a banked picture carries, as PdqSignal.to_json() writes it for
 * pdq_from_rgb(rgb, dihedral=True, grid=True): the same keys in the same order.
 * @param {Uint8Array | Uint8ClampedArray} pixels @param {number} width @param {number} height
 * @param {number} [channels] 3 (RGB) or 4 (RGBA)
 */
export function pdqSignal(pixels, width, height, channels = 4) {
  const luma = lumaOf(pixels, width, height, channels);
  /** @type {import("./grid.js").GridJson} */
  const grid = gridOfLuma(luma, width, height);
  const regions = anchoredRegions(luma, width, height);
  if (regions.length) grid.anchored = regionsToJson(regions);
  const { values, quality } = dihedralFromLuma(luma, width, height);
  return { type: "pdq", value: values[0], quality, dihedral: values, grid };
}

/**
 * MD5 of a file's bytes, read in slices of `chunkSize`.
 * @param {Blob} blob @param {{chunkSize?: number, onProgress?: (done: number) => void}} [options]
 * @returns {Promise<string>}
 */
export async function md5OfBlob(blob, { chunkSize = CHUNK_BYTES, onProgress } = {}) {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new RangeError(`chunkSize must be a positive integer, not ${chunkSize}`);
  }
  const md5 = new Md5();
  for (let at = 0; at < blob.size; at += chunkSize) {
    const slice = blob.slice(at, Math.min(at + chunkSize, blob.size));
    md5.update(new Uint8Array(await slice.arrayBuffer()));
    onProgress?.(Math.min(at + chunkSize, blob.size));
  }
  return md5.hexdigest();
}

/**
 * SHA-256 of a file's bytes: WebCrypto for a file of up to WHOLE_SHA256_BYTES (it needs
 * the whole input in one buffer), the incremental sha256.js over slices of `chunkSize`
 * beyond that -- never the whole of a large file in memory.
 * @param {Blob} blob @param {{chunkSize?: number, onProgress?: (done: number) => void}} [options]
 * @returns {Promise<string>}
 */
export async function sha256OfBlob(blob, { chunkSize = CHUNK_BYTES, onProgress } = {}) {
  if (blob.size <= WHOLE_SHA256_BYTES) {
    const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
    onProgress?.(blob.size);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new RangeError(`chunkSize must be a positive integer, not ${chunkSize}`);
  }
  const sha = new Sha256();
  for (let at = 0; at < blob.size; at += chunkSize) {
    const slice = blob.slice(at, Math.min(at + chunkSize, blob.size));
    sha.update(new Uint8Array(await slice.arrayBuffer()));
    onProgress?.(Math.min(at + chunkSize, blob.size));
  }
  return sha.hexdigest();
}

/**
 * @typedef {"decode" | "pdq" | "frames" | "sha256" | "md5"} Stage
 * @typedef {{stage: Stage, done: number, total: number}} Progress
 * @typedef {{path: string, type: string, format: string, signals: object[],
 *   warnings?: string[]}} FileHashes
 * @typedef {(file: File, format: string, onProgress: (progress: Progress) => void)
 *   => Promise<{type: "vpdq", frames: object[], partial?: true}>} SampleVideo
 *   the vPDQ signal of a video (video.js's vpdqOfVideo with the page's options)
 */

/** What the server warns when a video's decoding broke off (reclaim.signals.filehash). */
export const PARTIAL_WARNING =
  "video ended early (truncated or damaged); hashed the frames that decoded";
/** A video hashed without a frame sampler (in a worker) warns this. */
export const NO_VPDQ_WARNING =
  "videos get SHA-256 and MD5 here; their vPDQ is not computed in the browser";

/**
 * Refuse a video larger than the server accepts (media.limits), before reading it.
 * @param {Blob} file
 */
export function checkVideoSize(file) {
  if (file.size > MAX_VIDEO_BYTES) {
    throw new HashingError(
      "too_large",
      `the file is ${file.size} bytes, over the video limit of ${MAX_VIDEO_BYTES}`,
    );
  }
}

/**
 * Hash one file, as reclaim.signals.filehash.hash_file does: {path, type, format,
 * signals[, warnings]}. Raises HashingError for a file that cannot be hashed. A video gets
 * its vPDQ only through `sampleVideo` (which needs a page: see page.js).
 * @param {File} file
 * @param {{chunkSize?: number | null, onProgress?: (progress: Progress) => void,
 *   sampleVideo?: SampleVideo | null}} [options]
 * @returns {Promise<FileHashes>}
 */
export async function hashFile(file, { chunkSize, onProgress, sampleVideo } = {}) {
  const report = onProgress ?? (() => {});
  const { format, kind } = sniff(new Uint8Array(await file.slice(0, 4096).arrayBuffer()));
  /** @type {object[]} */
  const signals = [];
  /** @type {string[]} */
  const warnings = [];
  if (kind === "image") {
    if (file.size > MAX_IMAGE_BYTES) {
      throw new HashingError(
        "too_large",
        `the file is ${file.size} bytes, over the picture limit of ${MAX_IMAGE_BYTES}`,
      );
    }
    const claimed = headerSize(new Uint8Array(await file.slice(0, 1 << 20).arrayBuffer()), format);
    if (claimed && claimed[0] * claimed[1] > MAX_PIXELS) {
      throw new HashingError(
        "too_large",
        `the picture claims ${claimed[0]} x ${claimed[1]} pixels, over the limit of ${MAX_PIXELS}`,
      );
    }
    report({ stage: "decode", done: 0, total: 1 });
    const { pixels, width, height } = await decodeImage(file, format);
    report({ stage: "pdq", done: 0, total: 1 });
    signals.push(pdqSignal(pixels, width, height, 4));
  } else {
    checkVideoSize(file);
    if (sampleVideo) {
      const vpdq = await sampleVideo(file, format, report);
      signals.push(vpdq);
      if (vpdq.partial) warnings.push(PARTIAL_WARNING);
    } else {
      warnings.push(NO_VPDQ_WARNING);
    }
  }
  const total = file.size;
  const slices = chunkSize ?? CHUNK_BYTES; // a worker message may carry null
  const sha256 = await sha256OfBlob(file, {
    chunkSize: slices,
    onProgress: (done) => report({ stage: "sha256", done, total }),
  });
  signals.push({ type: "sha256", value: sha256 });
  const md5 = await md5OfBlob(file, {
    chunkSize: slices,
    onProgress: (done) => report({ stage: "md5", done, total }),
  });
  signals.push({ type: "md5", value: md5 });
  /** @type {FileHashes} */
  const out = { path: file.name, type: kind, format, signals };
  if (warnings.length) out.warnings = warnings;
  return out;
}

/**
 * A file that could not be hashed, as FileFailure.to_json() writes it.
 * @param {File} file @param {unknown} error
 */
export function failure(file, error) {
  if (error instanceof HashingError) {
    return { path: file.name, error: { kind: error.kind, message: error.message } };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { path: file.name, error: { kind: "media_error", message } };
}
