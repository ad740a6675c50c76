/**
 * Every portal page: the quick exit. The button leaves for an everyday page and replaces
 * this one in the history, so "back" does not return here; pressing Esc twice does the same.
 */

const exit = /** @type {HTMLAnchorElement | null} */ (document.getElementById("quick-exit"));

function leave() {
  if (exit) window.location.replace(exit.href);
}

if (exit) {
  exit.addEventListener("click", (event) => {
    event.preventDefault();
    leave();
  });
}

let lastEscape = 0;
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const now = Date.now();
  if (now - lastEscape < 1000) leave();
  lastEscape = now;
});
