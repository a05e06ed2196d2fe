// The Developer Hub's only script: copy buttons, and the Show toggle of a masked value (which
// is plain text without JavaScript). Everything else works without it.
"use strict";

function announce(text) {
  const live = document.getElementById("live");
  if (live) live.textContent = text;
}

document.addEventListener("DOMContentLoaded", () => {
  for (const field of document.querySelectorAll("input[data-mask]")) field.type = "password";
  for (const button of document.querySelectorAll("[data-reveal]")) button.hidden = false;
});

document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const field = document.getElementById(copy.dataset.copy);
    if (!field) return;
    const label = copy.querySelector(".copy-text");
    const done = () => {
      if (label) label.textContent = "Copied";
      copy.dataset.copied = "true";
      announce("Copied to the clipboard");
      setTimeout(() => { if (label) label.textContent = "Copy"; }, 2000);
    };
    const fallback = () => {
      const type = field.type;
      field.type = "text";
      field.select();
      if (document.execCommand("copy")) done();
      field.type = type;
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, fallback);
    } else {
      fallback();
    }
    return;
  }
  const reveal = event.target.closest("[data-reveal]");
  if (reveal) {
    const field = document.getElementById(reveal.dataset.reveal);
    if (!field) return;
    const hidden = field.type === "password";
    field.type = hidden ? "text" : "password";
    const text = reveal.querySelector(".toggle-text");
    if (text) text.textContent = hidden ? "Hide" : "Show";
    reveal.setAttribute("aria-pressed", hidden ? "true" : "false");
  }
});

// A page restored from the back/forward cache is not asked from the server again; the server
// already makes Chromium evict pages that showed a secret, and this covers other browsers.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) window.location.reload();
});
