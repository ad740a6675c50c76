/**
 * Test harness for tests/web/test_browser_hashing.py: exposes `globalThis.harness`, whose
 * functions the test calls with Playwright. Raw pixels and files come from the test's own
 * loopback server (/data/...); results go back as plain JSON values.
 */

import { DCT_MATRIX, pdqFromRgb } from "/static/hashing/pdq.js";
import { md5Hex, Md5 } from "/static/hashing/md5.js";
import { md5OfBlob, pdqSignal, reduceRows, sha256OfBlob } from "/static/hashing/files.js";
import { Sha256 } from "/static/hashing/sha256.js";

/** @param {string} url @returns {Promise<Uint8Array>} */
async function bytesOf(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** @returns {File[]} the files chosen in the page's file input */
function chosenFiles() {
  const input = /** @type {HTMLInputElement} */ (document.getElementById("files"));
  return Array.from(input.files ?? []);
}

/** @param {Uint8Array<ArrayBuffer>} bytes @returns {Promise<string>} */
async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

globalThis.harness = {
  dctMatrix: () => Array.from(DCT_MATRIX),

  /** The banked PDQ signal of raw RGB pixels, as JSON text. */
  async signalOf(
    /** @type {string} */ url,
    /** @type {number} */ width,
    /** @type {number} */ height,
  ) {
    return JSON.stringify(pdqSignal(await bytesOf(url), width, height, 3));
  },

  /** MD5 of each text (UTF-8), and of the bytes at url fed in uneven pieces. */
  md5Texts: (/** @type {string[]} */ texts) =>
    texts.map((t) => md5Hex(new TextEncoder().encode(t))),

  sha256Texts: (/** @type {string[]} */ texts) =>
    texts.map((t) => new Sha256().update(new TextEncoder().encode(t)).hexdigest()),

  async sha256Pieces(/** @type {string} */ url, /** @type {number[]} */ cuts) {
    const bytes = await bytesOf(url);
    const sha = new Sha256();
    let at = 0;
    for (const cut of [...cuts, bytes.length]) {
      sha.update(bytes.subarray(at, cut));
      at = cut;
    }
    return sha.hexdigest();
  },

  async md5Pieces(/** @type {string} */ url, /** @type {number[]} */ cuts) {
    const bytes = await bytesOf(url);
    const md5 = new Md5();
    let at = 0;
    for (const cut of [...cuts, bytes.length]) {
      md5.update(bytes.subarray(at, cut));
      at = cut;
    }
    return md5.hexdigest();
  },

  /** MD5 and SHA-256 of each chosen file, read in slices of chunkSize. */
  async digestChosen(/** @type {number} */ chunkSize) {
    const out = [];
    for (const file of chosenFiles()) {
      let slices = 0;
      const md5 = await md5OfBlob(file, { chunkSize, onProgress: () => slices++ });
      out.push({ name: file.name, size: file.size, md5, sha256: await sha256OfBlob(file), slices });
    }
    return out;
  },

  /** SHA-256 of Pillow's reduce(factor) computed here on raw RGB (as RGBA), row strips of `strip`. */
  async reduced(
    /** @type {string} */ url,
    /** @type {number} */ width,
    /** @type {number} */ height,
    /** @type {number} */ factor,
    /** @type {number} */ strip,
  ) {
    const rgb = await bytesOf(url);
    const rgba = new Uint8ClampedArray(width * height * 4);
    for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
      rgba.set(rgb.subarray(p, p + 3), q);
      rgba[q + 3] = 255;
    }
    const outW = Math.ceil(width / factor);
    const outH = Math.ceil(height / factor);
    const out = new Uint8ClampedArray(outW * outH * 4);
    for (let y = 0; y < height; y += strip) {
      const rows = Math.min(strip, height - y);
      reduceRows(
        rgba.subarray(y * width * 4, (y + rows) * width * 4),
        width,
        rows,
        factor,
        out,
        y / factor,
      );
    }
    const packed = new Uint8Array(outW * outH * 3);
    for (let p = 0, q = 0; q < out.length; p += 3, q += 4) packed.set(out.subarray(q, q + 3), p);
    return { width: outW, height: outH, sha256: await sha256Hex(packed) };
  },

  /** The chosen files hashed by the module worker: every message it posted, in order. */
  hashChosen(/** @type {number | undefined} */ chunkSize) {
    const worker = new Worker(new URL("/static/hashing/worker.js", import.meta.url), {
      type: "module",
    });
    /** @type {object[]} */
    const messages = [];
    return new Promise((resolve, reject) => {
      const stuck = setTimeout(() => {
        worker.terminate();
        reject(
          new Error(`the worker stopped answering after ${JSON.stringify(messages.slice(-3))}`),
        );
      }, 100_000);
      worker.addEventListener("error", (event) => reject(new Error(`worker: ${event.message}`)));
      worker.addEventListener("message", (event) => {
        messages.push(event.data);
        if (event.data.type === "done") {
          clearTimeout(stuck);
          worker.terminate();
          resolve(messages);
        }
      });
      worker.postMessage({ id: "batch-1", files: chosenFiles(), chunkSize });
    });
  },

  /** Milliseconds (best of `repeat`) for PDQ alone and the banked signal of raw RGB. */
  async timings(
    /** @type {string} */ url,
    /** @type {number} */ width,
    /** @type {number} */ height,
    /** @type {number} */ repeat,
  ) {
    const rgb = await bytesOf(url);
    const best = { pdq: Infinity, signal: Infinity };
    for (let k = 0; k < repeat; k++) {
      let start = performance.now();
      pdqFromRgb(rgb, width, height, 3);
      best.pdq = Math.min(best.pdq, performance.now() - start);
      start = performance.now();
      pdqSignal(rgb, width, height, 3);
      best.signal = Math.min(best.signal, performance.now() - start);
    }
    return best;
  },
};

document.getElementById("status").textContent = "ready";
document.body.dataset.ready = "1";
