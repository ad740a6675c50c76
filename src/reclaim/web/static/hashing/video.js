/**
 * vPDQ of a video in the survivor's browser: what reclaim.signals.vpdq computes on the
 * server (VpdqSignalType.compute over media.video.iter_video_frames), so that her videos,
 * too, are registered by hashes alone.
 *
 * It runs on the page's thread because only a page has <video>: the File plays from an
 * object URL in a video element never put in the document, is sought to each sampling
 * time, and the frame shown is read at its stored size and orientation with its own time
 * (player.js). The PDQ of each frame can run elsewhere (`hashFrame`: page.js gives it to
 * the worker) while the next frame is sought.
 *
 * Sampling is media.frames.Sampler's: the targets are k / fps seconds from the start, and
 * each takes the first frame at or after it (with 0.5 ms of slack); a frame taken moves
 * the next target past it. Video frames are hashed at their stored size, as the server
 * hashes them (it reduces only very large still pictures). The limits are the server's
 * defaults (media.limits); a video the browser cannot play is explained by codec.js.
 */

import { unplayable } from "./codec.js";
import { HashingError } from "./files.js";
import { pdqFromRgb } from "./pdq.js";
import { durationOf, EPSILON, FrameReader, MediaFailure, openVideo, release } from "./player.js";

/** Settings.video_sample_fps */
export const SAMPLE_FPS = 1;
/** Settings.media_max_video_seconds */
export const MAX_VIDEO_SECONDS = 6 * 3600;
/** Settings.media_max_frames */
export const MAX_FRAMES = 20_000;
/** Settings.media_max_video_pixels */
export const MAX_VIDEO_PIXELS = 8192 * 4352;
/** A seek that shows no frame within this long is a failure, not a wait for ever. */
export const SEEK_TIMEOUT_MS = 20_000;
export const LOAD_TIMEOUT_MS = 30_000;
const OLD_BROWSER =
  "this browser is too old to fingerprint videos (it cannot say which frame it shows): " +
  "update it, or use a recent Chrome, Edge, Firefox or Safari";
/** Frames waiting for their PDQ while the next one is sought (each width x height x 4 bytes). */
const IN_FLIGHT = 2;

/**
 * @typedef {import("./player.js").Shown} Shown
 * @typedef {{value: string, quality: number}} FramePdq
 * @typedef {(pixels: Uint8Array, width: number, height: number) => Promise<FramePdq>} HashFrame
 *   PDQ of RGBA pixels, row by row; may take (transfer) the buffer
 * @typedef {{ts: number, quality: number, value: string}} VpdqFrameJson
 * @typedef {{type: "vpdq", frames: VpdqFrameJson[], partial?: true}} VpdqJson
 *   what VpdqSignal.to_json() writes and VpdqSignalType.from_json() reads
 * @typedef {{stage: "frames", done: number, total: number}} FramesProgress
 *   `total` is 0 when the video does not say how long it is
 * @typedef {{
 *   fps?: number,
 *   maxSeconds?: number,
 *   maxFrames?: number,
 *   maxPixels?: number,
 *   seekTimeoutMs?: number,
 *   loadTimeoutMs?: number,
 *   hashFrame?: HashFrame,
 *   onProgress?: (progress: FramesProgress) => void,
 *   signal?: AbortSignal,
 * }} VideoOptions
 */

/**
 * The vPDQ signal of a video file, as the server would compute it at `fps`.
 * Raises HashingError: `unsupported_type` for a video this browser cannot play (with what
 * to do), `corrupt` / `no_frames` for a damaged one, `too_large` beyond the limits,
 * `timeout` when a seek never ends, `cancelled` when `signal` aborts. A video whose
 * decoding breaks off after some frames gives those frames, marked `partial`.
 * @param {Blob} file @param {string} format as files.js `sniff` names it
 * @param {VideoOptions} [options]
 * @returns {Promise<VpdqJson>}
 */
export async function vpdqOfVideo(file, format, options = {}) {
  const fps = options.fps ?? SAMPLE_FPS;
  if (!(fps > 0 && fps <= 240)) {
    throw new RangeError(`the sampling rate must be in (0, 240] frames per second, not ${fps}`);
  }
  const refused = await unplayable(file, format, null);
  if (refused) throw refused; // a container no browser opens: not even tried
  if (typeof VideoFrame !== "function") throw new HashingError("unsupported_type", OLD_BROWSER);
  /** @type {{video: HTMLVideoElement, url: string} | null} */
  let opened = null;
  try {
    opened = await openVideo(file, options.loadTimeoutMs ?? LOAD_TIMEOUT_MS);
    return await sample(opened.video, fps, options);
  } catch (error) {
    throw error instanceof MediaFailure ? await unplayable(file, format, error) : error;
  } finally {
    if (opened) release(opened.video, opened.url);
  }
}

/**
 * PDQ on this thread, after yielding so that the page can paint and take input.
 * @type {HashFrame}
 */
async function hashHere(pixels, width, height) {
  await new Promise((resolve) => setTimeout(resolve, 0));
  return pdqFromRgb(pixels, width, height, 4);
}

/** @param {number} seconds @returns {number} to the millisecond, as the server rounds */
function toMs(seconds) {
  return Math.round(seconds * 1000) / 1000;
}

/**
 * @param {HTMLVideoElement} video metadata loaded @param {number} fps
 * @param {VideoOptions} options @returns {Promise<VpdqJson>}
 */
async function sample(video, fps, options) {
  const maxSeconds = options.maxSeconds ?? MAX_VIDEO_SECONDS;
  const maxFrames = options.maxFrames ?? MAX_FRAMES;
  const maxPixels = options.maxPixels ?? MAX_VIDEO_PIXELS;
  const timeoutMs = options.seekTimeoutMs ?? SEEK_TIMEOUT_MS;
  const hashFrame = options.hashFrame ?? hashHere;
  const report = options.onProgress ?? (() => {});
  // No picture track the browser decodes (an audio-only file, or a codec it lacks while
  // it plays the sound): explained like a failed load.
  if (!video.videoWidth || !video.videoHeight) throw new MediaFailure(null);
  const duration = await durationOf(video, timeoutMs);
  if (duration !== null && duration > maxSeconds) {
    throw new HashingError(
      "too_large",
      `the video lasts ${Math.round(duration)} s, over the limit of ${maxSeconds} s`,
    );
  }
  const interval = 1 / fps;
  // One frame per target k / fps before the end: refused before any work when too many
  // (the server finds out after hashing that many).
  const total = duration === null ? 0 : Math.ceil(duration * fps - 1e-9);
  if (total > maxFrames) {
    throw new HashingError(
      "too_large",
      `at ${fps} frame(s) a second the video gives ${total} frames, over the limit of ${maxFrames}`,
    );
  }
  const reader = new FrameReader(video, timeoutMs);
  /** @type {VpdqFrameJson[]} */
  const frames = [];
  /** @type {Promise<VpdqFrameJson>[]} */
  const pending = [];
  let target = 0;
  let taken = 0;
  let partial = false;
  /** @type {Shown | null} */
  let last = null;
  report({ stage: "frames", done: 0, total });
  try {
    while (taken === 0 || duration === null || target < duration) {
      if (options.signal?.aborted) {
        throw new HashingError("cancelled", "stopped before the video was hashed");
      }
      const shown = await reader.firstFrom(target);
      if (shown === null) break;
      // the server's Sampler checks these as it goes (when the header said too little)
      if (shown.ts > maxSeconds || ++taken > maxFrames) {
        shown.frame.close();
        throw new HashingError(
          "too_large",
          shown.ts > maxSeconds
            ? `the video runs past ${maxSeconds} s, the longest accepted`
            : `more than ${maxFrames} frames would be hashed`,
        );
      }
      if (shown.width * shown.height > maxPixels) {
        shown.frame.close();
        throw new HashingError(
          "too_large",
          `video frames are ${shown.width}x${shown.height}, over the limit of ${maxPixels} pixels`,
        );
      }
      const ts = toMs(shown.ts);
      const { width, height } = shown;
      const pixels = await reader.pixels(shown);
      const job = hashFrame(pixels, width, height).then(({ value, quality }) => ({
        ts,
        quality,
        value,
      }));
      job.catch(() => {}); // awaited below; never an unhandled rejection if sampling fails first
      pending.push(job);
      if (pending.length >= IN_FLIGHT) {
        frames.push(await /** @type {Promise<VpdqFrameJson>} */ (pending.shift()));
        report({ stage: "frames", done: frames.length, total });
      }
      last = shown;
      target += (Math.floor((shown.ts + EPSILON - target) / interval) + 1) * interval;
    }
  } catch (error) {
    // Decoding broke off after some frames (a damaged or cut file): keep what decoded,
    // as the server does, and say so.
    if (!(error instanceof MediaFailure) || frames.length + pending.length === 0) throw error;
    partial = true;
  }
  for (const job of pending) {
    frames.push(await job);
    report({ stage: "frames", done: frames.length, total });
  }
  if (!frames.length) throw new HashingError("no_frames", "no video frame could be decoded");
  if (frames.length !== total) {
    // `total` counted the targets before the end; the last may come after the last frame
    report({ stage: "frames", done: frames.length, total: frames.length });
  }
  // The frames stop well before the duration the header declares: cut off (as
  // media.video._check_complete judges it).
  const frameLength = last?.duration ?? 1 / 30;
  if (duration !== null && last && last.ts + 1 + 2 * frameLength < duration - interval) {
    partial = true;
  }
  /** @type {VpdqJson} */
  const signal = { type: "vpdq", frames };
  if (partial) signal.partial = true;
  return signal;
}
