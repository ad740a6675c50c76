/**
 * Registering files: each chosen file is hashed in a Web Worker in this browser, and only
 * the hashes go into the form. The previews are local object URLs, never uploaded; the
 * file names are not sent either.
 */

import { hashFiles } from "../hashing/page.js";

const picker = /** @type {HTMLInputElement | null} */ (document.getElementById("file-picker"));
const field = /** @type {HTMLInputElement | null} */ (document.getElementById("files-json"));
const submit = /** @type {HTMLButtonElement | null} */ (document.getElementById("register-submit"));
const bar = /** @type {HTMLProgressElement | null} */ (document.getElementById("hash-progress"));
const status = document.getElementById("hash-status");
const previews = document.getElementById("previews");
const lang = document.documentElement.lang === "ko" ? "ko" : "en";

const TEXT = {
  ko: {
    working: (done, total) => `지문을 계산하는 중: ${done}/${total}`,
    ready: (n) => `${n}개 파일의 지문이 준비되었습니다. 파일은 전송되지 않습니다.`,
    failed: (name, why) => `${name}: ${why}`,
    none: "등록할 수 있는 파일이 없습니다.",
  },
  en: {
    working: (done, total) => `Computing fingerprints: ${done}/${total}`,
    ready: (n) => `Fingerprints of ${n} file(s) are ready. The files themselves are not sent.`,
    failed: (name, why) => `${name}: ${why}`,
    none: "No file could be registered.",
  },
}[lang];

/** @param {string} text */
function say(text) {
  if (status) status.textContent = text;
}

/** @param {File} file */
function preview(file) {
  if (!previews) return;
  const url = URL.createObjectURL(file);
  const element = file.type.startsWith("video/")
    ? Object.assign(document.createElement("video"), { muted: true })
    : document.createElement("img");
  element.src = url;
  element.className = "preview";
  element.setAttribute("alt", "");
  previews.append(element);
}

async function start() {
  if (!picker || !field || !submit) return;
  const files = Array.from(picker.files || []);
  if (!files.length) return;
  submit.disabled = true;
  field.value = "";
  if (previews) previews.replaceChildren();
  files.forEach(preview);
  const failures = document.createElement("ul");
  failures.className = "failures";
  previews?.after(failures);
  if (bar) {
    bar.hidden = false;
    bar.max = files.length;
    bar.value = 0;
  }
  /** @type {Array<{kind: string, signals: unknown[]}>} */
  const hashed = [];
  // Pictures are hashed in a worker, videos sampled here (a worker has no <video>).
  await hashFiles(files, {
    onProgress: (progress) => say(TEXT.working(progress.index, files.length)),
    onOutcome: (outcome) => {
      if (outcome.result) {
        hashed[outcome.index] = { kind: outcome.result.type, signals: outcome.result.signals };
      } else if (outcome.failure) {
        const item = document.createElement("li");
        item.textContent = TEXT.failed(files[outcome.index].name, outcome.failure.error.message);
        failures.append(item);
      }
      if (bar) bar.value = Math.min(files.length, bar.value + 1);
    },
  });
  const ready = hashed.filter(Boolean);
  field.value = JSON.stringify(ready);
  submit.disabled = ready.length === 0;
  say(ready.length ? TEXT.ready(ready.length) : TEXT.none);
}

picker?.addEventListener("change", start);
