/**
 * Why the browser could not play a video, and what the survivor can do about it. What to
 * do depends on the codec (an iPhone's HEVC video on a browser without HEVC needs "Most
 * Compatible"; a damaged MP4 needs another copy), so the codec the file declares is read
 * from its container's headers, without decoding anything.
 */

import { HashingError } from "./files.js";

const HEVC_HELP =
  "This browser cannot play HEVC (H.265) videos, the iPhone's usual format. On the iPhone, " +
  'share the video with Options > "Most Compatible" (H.264), or set Settings > Camera > ' +
  'Formats > "Most Compatible" before filming; or convert it to MP4 (H.264). Then choose it ' +
  "again.";

/** Containers browsers do not open at all, however the video inside is coded. */
const UNPLAYABLE_CONTAINERS = /** @type {Record<string, string>} */ ({
  avi: "AVI",
  flv: "Flash (FLV)",
  mpegts: "MPEG transport stream (TS)",
});

/** A codec string per codec, to ask the browser whether it plays it. */
const CODEC_PROBES = /** @type {Record<string, string>} */ ({
  h264: 'video/mp4; codecs="avc1.42E01E"',
  hevc: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
  vp8: 'video/webm; codecs="vp8"',
  vp9: 'video/webm; codecs="vp9"',
  av1: 'video/mp4; codecs="av01.0.05M.08"',
  mpeg4: 'video/mp4; codecs="mp4v.20.8"',
  theora: 'video/ogg; codecs="theora"',
});

/**
 * The error to give for a video the browser did not play: before trying (`failure` null),
 * only for containers no browser opens, else null; after a failure (the element's error,
 * code 0 when it played no picture at all), always one.
 * @param {Blob} file @param {string} format as files.js `sniff` names it
 * @param {{code: number} | null} failure
 * @returns {Promise<HashingError | null>}
 */
export async function unplayable(file, format, failure) {
  if (format in UNPLAYABLE_CONTAINERS) {
    return new HashingError(
      "unsupported_type",
      `this browser cannot open ${UNPLAYABLE_CONTAINERS[format]} videos: convert the video to ` +
        "MP4 (H.264) and choose it again",
    );
  }
  if (failure === null) return null;
  const codec = await videoCodecOf(file, format);
  const probe = document.createElement("video");
  const playable =
    codec !== null && codec in CODEC_PROBES && probe.canPlayType(CODEC_PROBES[codec]) !== "";
  if (codec === "hevc" && !playable) return new HashingError("unsupported_type", HEVC_HELP);
  if (codec !== null && !playable) {
    return new HashingError(
      "unsupported_type",
      `this browser cannot play ${codec.toUpperCase()} video: convert the video to MP4 (H.264) ` +
        "and choose it again",
    );
  }
  // A codec the browser plays (or none it can name): the file itself is at fault.
  const container = format === "mp4" ? "MP4" : "WebM/MKV";
  return new HashingError(
    failure.code ? "corrupt" : "no_frames",
    `the video cannot be decoded (damaged or incomplete ${container})`,
  );
}

/** Sample entry types of ISO-BMFF (MP4, MOV) video tracks. */
const MP4_CODECS = /** @type {Record<string, string>} */ ({
  hvc1: "hevc",
  hev1: "hevc",
  dvh1: "hevc", // Dolby Vision over HEVC (iPhone HDR)
  dvhe: "hevc",
  avc1: "h264",
  avc3: "h264",
  vp08: "vp8",
  vp09: "vp9",
  av01: "av1",
  mp4v: "mpeg4",
  apch: "prores",
  apcn: "prores",
  apcs: "prores",
  apco: "prores",
  ap4h: "prores",
});

const MP4_ENTRY = new RegExp(Object.keys(MP4_CODECS).join("|"));

/** Codec IDs of Matroska (MKV, WebM) video tracks. */
const MATROSKA_CODECS = /** @type {Record<string, string>} */ ({
  "V_MPEGH/ISO/HEVC": "hevc",
  "V_MPEG4/ISO/AVC": "h264",
  V_VP8: "vp8",
  V_VP9: "vp9",
  V_AV1: "av1",
  "V_MPEG4/ISO/ASP": "mpeg4",
  V_MPEG2: "mpeg2",
  V_THEORA: "theora",
});

/** The moov box holds the sample descriptions; larger ones are not searched. */
const MAX_MOOV_BYTES = 16 * 1024 * 1024;
/** Matroska's Tracks element comes before the clusters, within the first bytes. */
const MATROSKA_HEAD_BYTES = 1024 * 1024;
const MAX_TOP_BOXES = 4096;

/** @param {Blob} blob @param {number} from @param {number} to @returns {Promise<Uint8Array>} */
async function bytes(blob, from, to) {
  return new Uint8Array(await blob.slice(from, Math.min(to, blob.size)).arrayBuffer());
}

/** @param {Uint8Array} data @returns {string} one character per byte */
function latin1(data) {
  let out = "";
  for (let at = 0; at < data.length; at += 0x8000) {
    out += String.fromCharCode(...data.subarray(at, at + 0x8000));
  }
  return out;
}

/**
 * The first video codec the container names ("hevc", "h264", "vp9", ...), or null when it
 * names none this module knows or its headers cannot be read; never throws.
 * @param {Blob} file @param {string} format as files.js `sniff` names it
 * @returns {Promise<string | null>}
 */
export async function videoCodecOf(file, format) {
  try {
    if (format === "mp4") return await mp4Codec(file);
    if (format === "matroska") {
      const head = latin1(await bytes(file, 0, MATROSKA_HEAD_BYTES));
      const ids = Object.keys(MATROSKA_CODECS).sort((a, b) => b.length - a.length);
      const found = ids
        .map((id) => ({ id, at: head.indexOf(id) }))
        .filter(({ at }) => at >= 0)
        .sort((a, b) => a.at - b.at)[0];
      return found ? MATROSKA_CODECS[found.id] : null;
    }
  } catch {
    // an unreadable header only costs the explanation its detail
  }
  return null;
}

/**
 * Walk the top-level boxes (reading only their headers) to the moov box, wherever it is
 * (cameras write it after the media data), and find the first video sample entry in it.
 * @param {Blob} file @returns {Promise<string | null>}
 */
async function mp4Codec(file) {
  let at = 0;
  for (let count = 0; count < MAX_TOP_BOXES && at + 8 <= file.size; count++) {
    const head = await bytes(file, at, at + 16);
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    let size = view.getUint32(0);
    const type = latin1(head.subarray(4, 8));
    let header = 8;
    if (size === 1 && head.length >= 16) {
      size = view.getUint32(8) * 2 ** 32 + view.getUint32(12);
      header = 16;
    } else if (size === 0) {
      size = file.size - at; // the last box runs to the end of the file
    }
    if (size < header) return null;
    if (type === "moov") {
      const moov = latin1(await bytes(file, at + header, at + Math.min(size, MAX_MOOV_BYTES)));
      // the earliest video sample entry type: the first video track's codec
      const match = MP4_ENTRY.exec(moov);
      return match ? MP4_CODECS[match[0]] : null;
    }
    at += size;
  }
  return null;
}
