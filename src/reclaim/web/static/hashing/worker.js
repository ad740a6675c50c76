/**
 * A module Web Worker that hashes the survivor's files off the page's thread.
 *
 * Start it with `new Worker(new URL("./worker.js", import.meta.url), {type: "module"})`
 * and post `{id, files: File[], chunkSize?}`. For each file, in order, it posts
 * `{type: "progress", id, index, name, stage, done, total}` while working, then
 * `{type: "result", id, index, result}` (FileHashes JSON, as the server writes it) or
 * `{type: "failure", id, index, failure}` (`{path, error: {kind, message}}`); one bad
 * file never stops the others. `{type: "done", id}` follows the last file. Batches posted
 * while one is running wait their turn. Nothing leaves the browser from here: the page
 * decides what to send (hashes only).
 *
 * A worker has no <video>, so a video's frames are sampled on the page (video.js) and
 * only their PDQ is computed here: post `{type: "pdq", id, pixels: ArrayBuffer, width,
 * height}` (RGBA, row by row; transfer the buffer) and get `{type: "pdq", id, value,
 * quality}` back, or `{type: "pdq-error", id, message}`. Frames are answered at once, not
 * queued behind a batch.
 */

import { failure, hashFile } from "./files.js";
import { pdqFromRgb } from "./pdq.js";

/**
 * @typedef {{id: unknown, files: File[], chunkSize?: number}} Batch
 * @typedef {{type: "pdq", id: unknown, pixels: ArrayBuffer, width: number, height: number}} Frame
 */

const scope = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (self));
let queue = Promise.resolve();

/** @param {Batch} batch */
async function run(batch) {
  const { id, files, chunkSize } = batch;
  for (let index = 0; index < files.length; index++) {
    const file = files[index];
    try {
      const result = await hashFile(file, {
        chunkSize,
        onProgress: (progress) =>
          scope.postMessage({ type: "progress", id, index, name: file.name, ...progress }),
      });
      scope.postMessage({ type: "result", id, index, result });
    } catch (error) {
      scope.postMessage({ type: "failure", id, index, failure: failure(file, error) });
    }
  }
  scope.postMessage({ type: "done", id });
}

/** @param {Frame} frame */
function hashFrame({ id, pixels, width, height }) {
  try {
    if (!(pixels instanceof ArrayBuffer) || pixels.byteLength !== width * height * 4) {
      throw new RangeError(`a frame of ${width} x ${height} needs ${width * height * 4} bytes`);
    }
    const { value, quality } = pdqFromRgb(new Uint8Array(pixels), width, height, 4);
    scope.postMessage({ type: "pdq", id, value, quality });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    scope.postMessage({ type: "pdq-error", id, message });
  }
}

scope.addEventListener("message", (event) => {
  if (event.data?.type === "pdq") {
    hashFrame(/** @type {Frame} */ (event.data));
    return;
  }
  const batch = /** @type {Batch} */ (event.data);
  queue = queue.then(() => run(batch)).catch(() => {});
});
