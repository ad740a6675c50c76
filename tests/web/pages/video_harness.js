/**
 * Test harness for tests/web/test_browser_video.py and bench/portal_hash.py: exposes
 * `globalThis.videoHarness`, whose functions Playwright calls. Files are the ones chosen
 * in the page's file input; everything goes through page.js, as the portal's page will.
 */

import { hashFile } from "/static/hashing/files.js";
import { hashFiles } from "/static/hashing/page.js";
import { vpdqOfVideo } from "/static/hashing/video.js";

/** @returns {File[]} the files chosen in the page's file input */
function chosenFiles() {
  const input = /** @type {HTMLInputElement} */ (document.getElementById("files"));
  return Array.from(input.files ?? []);
}

globalThis.videoHarness = {
  /**
   * The chosen files hashed by page.js: every outcome, every progress report, the time it
   * took, and the longest the page's thread was busy without a break (a timer ticking
   * every 10 ms measures it).
   * @param {import("/static/hashing/page.js").PageOptions} options
   */
  async hashChosen(options) {
    /** @type {object[]} */
    const progress = [];
    let last = performance.now();
    let longest = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 10);
    const start = performance.now();
    try {
      const outcomes = await hashFiles(chosenFiles(), {
        ...options,
        onProgress: (report) => progress.push(report),
      });
      return { outcomes, progress, ms: performance.now() - start, longestStallMs: longest };
    } finally {
      clearInterval(ticker);
    }
  },

  /**
   * The chosen files through files.js's hashFile on this page's thread, with video.js as
   * its frame sampler (PDQ here too): what a page without the worker gets.
   */
  async hashHere() {
    const out = [];
    for (const file of chosenFiles()) {
      out.push(
        await hashFile(file, {
          sampleVideo: (video, format, onProgress) => vpdqOfVideo(video, format, { onProgress }),
        }),
      );
    }
    return out;
  },

  /**
   * hashChosen in an older browser: one whose VideoFrame.copyTo does not convert to RGBA
   * ("copyTo": frames are drawn on a canvas), or one without WebCodecs ("VideoFrame").
   * @param {"copyTo" | "VideoFrame"} missing
   */
  async hashWithout(missing) {
    const frame = globalThis.VideoFrame;
    const copyTo = frame.prototype.copyTo;
    if (missing === "VideoFrame") {
      // @ts-ignore: what such a browser has
      delete globalThis.VideoFrame;
    } else {
      frame.prototype.copyTo = function (destination, options) {
        if (options?.format) return Promise.reject(new TypeError("no format conversion"));
        return copyTo.call(this, destination, options);
      };
    }
    try {
      return await globalThis.videoHarness.hashChosen({});
    } finally {
      globalThis.VideoFrame = frame;
      frame.prototype.copyTo = copyTo;
    }
  },

  /** @param {string} type a MIME type with codecs @returns {string} canPlayType's answer */
  canPlay: (type) => document.createElement("video").canPlayType(type),
};

document.getElementById("status").textContent = "ready";
document.body.dataset.ready = "1";
