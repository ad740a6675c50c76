/**
 * A video played off the document, sought frame by frame: the part of video.js that talks
 * to the browser's <video>.
 *
 * What a seek shows is read with WebCodecs' VideoFrame, which gives what the server's
 * decoder gives: the frame's own presentation time and length (not the time asked for,
 * which is all `currentTime` says), and its pixels as stored -- at the stored size
 * (`visibleRect`, not the display size a pixel aspect ratio gives), before the rotation a
 * phone records for portrait videos (PyAV does not apply it, so the server hashes frames
 * as stored). A browser without VideoFrame (before 2023) cannot tell which frame it
 * shows, nor read it as stored: video.js refuses to hash there rather than guess.
 */

import { HashingError } from "./files.js";

/** media.frames.Sampler.EPSILON: slack for rounding in container time bases (seconds). */
export const EPSILON = 0.0005;
/** Two frames closer than this (seconds) are the same one (timestamps are microseconds). */
const SAME = 2e-6;
/** The search for a next frame stops once its interval is this narrow (seconds)... */
const SEARCH_PRECISION = 0.0002;
/** ...and gives up past a gap this long (seconds) when the video's length is unknown. */
const MAX_GAP = 3600;
/** A frame that does not cover the time sought is read again this often, this far apart. */
const STALE_TRIES = 20;
const STALE_WAIT_MS = 5;
/** A seek after which the element shows no frame at all is read again this often, this far apart. */
const NO_FRAME_TRIES = 40;
const NO_FRAME_WAIT_MS = 50;

/** The media element failed (its MediaError, or no frame to read): codec.js explains it. */
export class MediaFailure extends Error {
  /** @param {MediaError | null} error */
  constructor(error) {
    super(error?.message || `media error ${error?.code ?? "without a code"}`);
    this.code = error?.code ?? 0;
  }
}

/**
 * @param {Blob} file @param {number} timeoutMs
 * @returns {Promise<{video: HTMLVideoElement, url: string}>} its header read
 */
export async function openVideo(file, timeoutMs) {
  const video = document.createElement("video");
  video.muted = true;
  video.preload = "auto";
  video.playsInline = true;
  const url = URL.createObjectURL(file);
  const loaded = waitFor(video, "loadedmetadata", timeoutMs, "to read the video's header");
  video.src = url;
  try {
    await loaded;
  } catch (error) {
    release(video, url);
    throw error;
  }
  return { video, url };
}

/** @param {HTMLVideoElement} video @param {string} url */
export function release(video, url) {
  video.removeAttribute("src");
  video.load(); // drops the decoder and its buffers now, not when collected
  URL.revokeObjectURL(url);
}

/**
 * Resolve on `event`, reject on the element's error (MediaFailure) or after `timeoutMs`.
 * @param {HTMLVideoElement} video @param {string} event @param {number} timeoutMs
 * @param {string} what for the timeout's message
 * @returns {Promise<void>}
 */
function waitFor(video, event, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    /** @param {() => void} settle */
    const finish = (settle) => {
      clearTimeout(timer);
      video.removeEventListener(event, onEvent);
      video.removeEventListener("error", onError);
      settle();
    };
    const onEvent = () => finish(resolve);
    const onError = () => finish(() => reject(new MediaFailure(video.error)));
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new HashingError("timeout", `the browser took more than ${timeoutMs / 1000} s ${what}`),
          ),
        ),
      timeoutMs,
    );
    video.addEventListener(event, onEvent);
    video.addEventListener("error", onError);
  });
}

/**
 * @param {HTMLVideoElement} video @param {number} time seconds @param {number} timeoutMs
 */
async function seek(video, time, timeoutMs) {
  if (video.error) throw new MediaFailure(video.error);
  const done = waitFor(video, "seeked", timeoutMs, `to show the frame at ${time.toFixed(3)} s`);
  video.currentTime = time;
  await done;
}

/**
 * The duration in seconds, or null when the file does not say (a WebM recorded in a
 * browser often does not, until it is read to the end: a seek far past the end makes the
 * browser find it).
 * @param {HTMLVideoElement} video @param {number} timeoutMs @returns {Promise<number | null>}
 */
export async function durationOf(video, timeoutMs) {
  if (Number.isFinite(video.duration)) return video.duration;
  await seek(video, 1e9, timeoutMs);
  return Number.isFinite(video.duration) ? video.duration : null;
}

/**
 * @typedef {{ts: number, duration: number | null, width: number, height: number,
 *   frame: VideoFrame}} Shown
 *   a frame the element showed: start (s), length (s) if known, stored size
 */

/** Seeks the element and reads the frames it shows. */
export class FrameReader {
  /** @param {HTMLVideoElement} video @param {number} timeoutMs */
  constructor(video, timeoutMs) {
    this.video = video;
    this.timeoutMs = timeoutMs;
    /** @type {boolean | null} whether VideoFrame.copyTo converts to RGBA here */
    this.copiesRgba = null;
  }

  /** @param {number} time @returns {Promise<Shown>} the frame covering `time` */
  async at(time) {
    await seek(this.video, time, this.timeoutMs);
    // Now and then (1 seek in a few hundred here) "seeked" comes before the sought frame
    // reaches the element, which still shows the previous one: a frame that does not cover
    // the time asked is read again, a few milliseconds later. One that never does (before
    // the first frame, after the last, or a frame longer than its container says) is
    // taken as it is after STALE_TRIES.
    let stale = 0;
    let empty = 0;
    for (;;) {
      /** @type {Shown} */
      let shown;
      try {
        shown = this.capture();
      } catch (error) {
        // Under load, "seeked" can also come before the element holds any decoded frame:
        // wait for one a little (NO_FRAME_TRIES x NO_FRAME_WAIT_MS) before calling the
        // video undecodable.
        if (!(error instanceof MediaFailure) || ++empty >= NO_FRAME_TRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, NO_FRAME_WAIT_MS));
        continue;
      }
      const covers =
        shown.ts <= time + SAME && (!shown.duration || shown.ts + shown.duration > time - SAME);
      if (covers || ++stale >= STALE_TRIES) return shown;
      shown.frame.close();
      await new Promise((resolve) => setTimeout(resolve, STALE_WAIT_MS));
    }
  }

  /** @returns {Shown} the frame the element shows now */
  capture() {
    /** @type {VideoFrame} */
    let frame;
    try {
      frame = new VideoFrame(this.video);
    } catch (error) {
      // no frame to show after a completed seek: the decoder gave nothing
      throw new MediaFailure(null);
    }
    const rect = frame.visibleRect ?? { width: frame.codedWidth, height: frame.codedHeight };
    const { width, height } = rect;
    return {
      ts: Math.max(0, frame.timestamp / 1e6),
      duration: frame.duration ? frame.duration / 1e6 : null,
      width,
      height,
      frame,
    };
  }

  /**
   * The first frame starting at or after `target` (the server's rule), or null when no
   * frame does (past the last frame).
   * @param {number} target @returns {Promise<Shown | null>}
   */
  async firstFrom(target) {
    const shown = await this.at(target);
    if (shown.ts + EPSILON >= target) return shown;
    try {
      return await this.after(shown);
    } finally {
      shown.frame.close();
    }
  }

  /**
   * The frame after `shown`, or null when `shown` is the last. Seeking just past the end of
   * `shown` shows it when the container gives frame lengths; otherwise (or when that lands
   * on `shown` again before the end) it is searched: steps doubling forward until another
   * frame shows, then halving back to the earliest one.
   * @param {Shown} shown @returns {Promise<Shown | null>}
   */
  async after(shown) {
    const end = Number.isFinite(this.video.duration) ? this.video.duration : Infinity;
    let low = shown.ts; // a time known to show `shown`
    if (shown.duration) {
      const probe = await this.at(shown.ts + shown.duration + Math.min(shown.duration / 2, 0.001));
      if (probe.ts > shown.ts + SAME) return probe;
      probe.frame.close();
      low = shown.ts + shown.duration;
      if (low >= end) return null;
    }
    /** @type {Shown | null} */
    let later = null;
    for (let step = 0.001; later === null; step *= 2) {
      const time = Math.min(low + step, end);
      const probe = await this.at(time);
      if (probe.ts > shown.ts + SAME) {
        later = probe;
      } else {
        probe.frame.close();
        if (time >= end || step > MAX_GAP) return null;
        low = time;
      }
    }
    for (let round = 0; round < 40 && later.ts - low > SEARCH_PRECISION; round++) {
      const probe = await this.at((low + later.ts) / 2);
      if (probe.ts > shown.ts + SAME) {
        later.frame.close();
        later = probe;
      } else {
        probe.frame.close();
        low = (low + later.ts) / 2;
      }
    }
    return later;
  }

  /**
   * The RGBA pixels of a shown frame at its stored size and orientation; closes the frame.
   * @param {Shown} shown @returns {Promise<Uint8Array>}
   */
  async pixels(shown) {
    const { frame, width, height } = shown;
    try {
      if (this.copiesRgba !== false) {
        const pixels = new Uint8Array(width * height * 4);
        try {
          // the stored pixels, converted with the frame's own colour matrix
          await frame.copyTo(pixels, { format: "RGBA", colorSpace: "srgb" });
          this.copiesRgba = true;
          return pixels;
        } catch (error) {
          if (this.copiesRgba) throw new MediaFailure(null);
          this.copiesRgba = false; // an older browser: draw the frames instead
        }
      }
      return this.drawn(shown);
    } finally {
      frame.close();
    }
  }

  /**
   * The pixels drawn on a canvas, the recorded rotation undone (drawing applies it).
   * @param {Shown} shown @returns {Uint8Array}
   */
  drawn({ frame, width, height }) {
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext("2d", { willReadFrequently: true });
    if (!context) {
      throw new HashingError("too_large", "not enough memory to read the video's frames");
    }
    const turn = ("rotation" in frame ? Number(frame.rotation) : 0) % 360;
    const [drawW, drawH] = turn === 90 || turn === 270 ? [height, width] : [width, height];
    context.translate(width / 2, height / 2);
    context.rotate((-turn * Math.PI) / 180);
    context.drawImage(frame, -drawW / 2, -drawH / 2, drawW, drawH);
    return new Uint8Array(context.getImageData(0, 0, width, height).data.buffer);
  }
}
