// The Developer Hub's only script: copy buttons and the reveal toggle. Everything else works
// without JavaScript.
"use strict";
document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const field = document.getElementById(copy.dataset.copy);
    if (!field) return;
    const done = () => {
      copy.textContent = "Copied";
      copy.dataset.copied = "true";
      setTimeout(() => { copy.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, () => {
        field.select();
        if (document.execCommand("copy")) done();
      });
    } else {
      const type = field.type;
      field.type = "text";
      field.select();
      if (document.execCommand("copy")) done();
      field.type = type;
    }
    return;
  }
  const reveal = event.target.closest("[data-reveal]");
  if (reveal) {
    const field = document.getElementById(reveal.dataset.reveal);
    if (!field) return;
    const hidden = field.type === "password";
    field.type = hidden ? "text" : "password";
    reveal.textContent = hidden ? "Hide" : "Show";
    reveal.setAttribute("aria-pressed", hidden ? "true" : "false");
  }
});
// A page restored from the back/forward cache is not asked from the server again; the server
// already makes Chromium evict pages that showed a secret, and this covers other browsers.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) window.location.reload();
});
