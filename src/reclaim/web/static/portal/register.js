/**
 * Registering files: each chosen file is hashed in a Web Worker in this browser, and only
 * the hashes go into the form. The previews are local object URLs, never uploaded; the
 * file names are not sent either.
 */

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

function start() {
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
  /** @type {Array<{kind: string, signals: unknown[]}>} */
  const hashed = [];
  if (bar) {
    bar.hidden = false;
    bar.max = files.length;
    bar.value = 0;
  }
  const worker = new Worker(new URL("../hashing/worker.js", import.meta.url), { type: "module" });
  worker.addEventListener("message", (event) => {
    const data = event.data;
    if (data.type === "progress") {
      say(TEXT.working(data.index, files.length));
    } else if (data.type === "result") {
      hashed.push({ kind: data.result.type, signals: data.result.signals });
      if (bar) bar.value = data.index + 1;
    } else if (data.type === "failure") {
      const item = document.createElement("li");
      item.textContent = TEXT.failed(files[data.index].name, data.failure.error.message);
      failures.append(item);
      if (bar) bar.value = data.index + 1;
    } else if (data.type === "done") {
      worker.terminate();
      field.value = JSON.stringify(hashed);
      submit.disabled = hashed.length === 0;
      say(hashed.length ? TEXT.ready(hashed.length) : TEXT.none);
    }
  });
  worker.postMessage({ id: 1, files });
}

picker?.addEventListener("change", start);
