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
 */

import { failure, hashFile } from "./files.js";

/** @typedef {{id: unknown, files: File[], chunkSize?: number}} Batch */

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

scope.addEventListener("message", (event) => {
  const batch = /** @type {Batch} */ (event.data);
  queue = queue.then(() => run(batch)).catch(() => {});
});
