/**
 * Hashing the survivor's files from a page: pictures in the module worker (worker.js);
 * videos sampled here with video.js -- a worker has no <video> -- while the worker computes
 * each frame's PDQ, then their SHA-256 and MD5 in the worker too (MD5 in JavaScript reads
 * some 30 MB a second: a 4 MiB slice on the page's thread would freeze it for 0.1 s).
 *
 *   import { hashFiles } from "../hashing/page.js";
 *   const outcomes = await hashFiles(picker.files, { onProgress, onOutcome });
 *   // outcomes[i]: {index, result} (hash_file's JSON: {path, type, format, signals,
 *   // warnings?}) or {index, failure} ({path, error: {kind, message}})
 *
 * Files are hashed one after another, in order; one that fails never stops the others.
 * Nothing is sent anywhere: the page decides what to send (hashes only).
 */

import {
  checkVideoSize,
  failure,
  HashingError,
  NO_VPDQ_WARNING,
  PARTIAL_WARNING,
  sniff,
} from "./files.js";
import { vpdqOfVideo } from "./video.js";

/**
 * @typedef {import("./files.js").FileHashes} FileHashes
 * @typedef {import("./files.js").Progress} Progress
 * @typedef {import("./files.js").Stage} Stage
 * @typedef {import("./video.js").FramePdq} FramePdq
 * @typedef {{path: string, error: {kind: string, message: string}}} FileFailure
 * @typedef {{index: number, result: FileHashes} | {index: number, failure: FileFailure}} Outcome
 * @typedef {{index: number, name: string, stage: Stage, done: number, total: number}} PageProgress
 *   `index` is the file's position in `files`; `total` 0 means unknown
 * @typedef {{
 *   maxSeconds?: number,
 *   maxFrames?: number,
 *   maxPixels?: number,
 *   seekTimeoutMs?: number,
 *   loadTimeoutMs?: number,
 * }} VideoLimits
 *   video.js's bounds; the server's defaults when left out
 * @typedef {{
 *   fps?: number,
 *   video?: VideoLimits,
 *   onProgress?: (progress: PageProgress) => void,
 *   onOutcome?: (outcome: Outcome) => void,
 *   signal?: AbortSignal,
 *   worker?: Worker,
 * }} PageOptions
 *   `fps`: the bank's video_sample_fps (1 by default); `worker`: one to use (and leave
 *   running) instead of a new one that is ended afterwards
 */

/** @returns {Worker} */
export function startWorker() {
  return new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
}

/**
 * Hash `files` in order, each to a result or a failure.
 * @param {ArrayLike<File>} files @param {PageOptions} [options]
 * @returns {Promise<Outcome[]>}
 */
export async function hashFiles(files, options = {}) {
  const worker = options.worker ?? startWorker();
  const client = new WorkerClient(worker);
  /** @type {Outcome[]} */
  const outcomes = [];
  try {
    for (let index = 0; index < files.length; index++) {
      const file = files[index];
      /** @param {Progress} progress */
      const onProgress = (progress) =>
        options.onProgress?.({ index, name: file.name, ...progress });
      /** @type {Outcome} */
      let outcome;
      try {
        if (options.signal?.aborted) {
          throw new HashingError("cancelled", "stopped before the file was hashed");
        }
        outcome = { index, result: await hashOne(file, client, options, onProgress) };
      } catch (error) {
        outcome = { index, failure: failure(file, error) };
      }
      outcomes.push(outcome);
      options.onOutcome?.(outcome);
    }
  } finally {
    client.close();
    if (!options.worker) worker.terminate();
  }
  return outcomes;
}

/**
 * @param {File} file @param {WorkerClient} client @param {PageOptions} options
 * @param {(progress: Progress) => void} onProgress @returns {Promise<FileHashes>}
 */
async function hashOne(file, client, options, onProgress) {
  const { format, kind } = sniff(new Uint8Array(await file.slice(0, 4096).arrayBuffer()));
  if (kind === "image") return client.hashFile(file, onProgress);
  // What files.js's hashFile does with a frame sampler, with the digests in the worker:
  // the vPDQ first, then the worker's SHA-256 and MD5 (and its warning that it computed
  // no vPDQ, which is answered here).
  checkVideoSize(file);
  const vpdq = await vpdqOfVideo(file, format, {
    ...options.video,
    fps: options.fps,
    hashFrame: (pixels, width, height) => client.pdq(pixels, width, height),
    onProgress,
    signal: options.signal,
  });
  const digests = await client.hashFile(file, onProgress);
  const warnings = (digests.warnings ?? []).filter((warning) => warning !== NO_VPDQ_WARNING);
  if (vpdq.partial) warnings.unshift(PARTIAL_WARNING);
  /** @type {FileHashes} */
  const result = { ...digests, signals: [vpdq, ...digests.signals] };
  delete result.warnings;
  if (warnings.length) result.warnings = warnings;
  return result;
}

/**
 * @typedef {{resolve: (value: any) => void, reject: (error: Error) => void,
 *   onProgress?: (progress: Progress) => void}} Waiting
 */

/** Requests to the worker (worker.js's messages), each answered by its own id. */
class WorkerClient {
  /** @param {Worker} worker */
  constructor(worker) {
    this.worker = worker;
    this.next = 0;
    /** @type {Map<string, Waiting>} */
    this.waiting = new Map();
    /** @type {HashingError | null} set once the worker has failed: later calls fail at once */
    this.broken = null;
    /** @param {MessageEvent} event */
    this.onMessage = (event) => this.receive(event.data);
    /** @param {ErrorEvent} event */
    this.onError = (event) => {
      event.preventDefault();
      this.broken = new HashingError(
        "worker_crashed",
        `the hashing worker stopped (${event.message || "it could not start"})`,
      );
      for (const waiting of this.waiting.values()) waiting.reject(this.broken);
      this.waiting.clear();
    };
    worker.addEventListener("message", this.onMessage);
    worker.addEventListener("error", this.onError);
  }

  /**
   * @param {object} message @param {Transferable[]} transfer
   * @param {Waiting["onProgress"]} [onProgress] @returns {Promise<any>}
   */
  request(message, transfer, onProgress) {
    if (this.broken) return Promise.reject(this.broken);
    const id = `page-${++this.next}`;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /**
   * @param {File} file @param {(progress: Progress) => void} onProgress
   * @returns {Promise<FileHashes>}
   */
  hashFile(file, onProgress) {
    return this.request({ files: [file] }, [], onProgress);
  }

  /**
   * PDQ of RGBA pixels in the worker; the pixels' buffer is handed over (not copied).
   * @param {Uint8Array} pixels @param {number} width @param {number} height
   * @returns {Promise<FramePdq>}
   */
  pdq(pixels, width, height) {
    const own = pixels.byteOffset === 0 && pixels.byteLength === pixels.buffer.byteLength;
    const buffer = own ? pixels.buffer : pixels.slice().buffer;
    return this.request({ type: "pdq", pixels: buffer, width, height }, [buffer]);
  }

  /** @param {any} data a message from worker.js */
  receive(data) {
    const waiting = this.waiting.get(data?.id);
    if (!waiting) return;
    if (data.type === "progress") {
      const { stage, done, total } = data;
      waiting.onProgress?.({ stage, done, total });
      return;
    }
    if (data.type === "done") return; // its result or failure came first
    this.waiting.delete(data.id);
    if (data.type === "result") {
      waiting.resolve(data.result);
    } else if (data.type === "pdq") {
      waiting.resolve({ value: data.value, quality: data.quality });
    } else if (data.type === "failure") {
      waiting.reject(new HashingError(data.failure.error.kind, data.failure.error.message));
    } else {
      waiting.reject(new HashingError("media_error", String(data.message ?? data.type)));
    }
  }

  close() {
    this.worker.removeEventListener("message", this.onMessage);
    this.worker.removeEventListener("error", this.onError);
    for (const waiting of this.waiting.values()) {
      waiting.reject(new HashingError("cancelled", "hashing stopped"));
    }
    this.waiting.clear();
  }
}
