// Pages with a rotating QR code (the venue check-in screen, the member card): swap in the
// fresh part marked data-refresh="seconds" without reloading the page (a timed full-page
// refresh breaks screen readers, zoom and a half-filled form; without script the page falls
// back to <noscript> meta refresh).
(function () {
  "use strict";
  var box = document.querySelector("[data-refresh]");
  if (!box || !window.fetch || !window.DOMParser) return;
  var every = Math.max(5, parseInt(box.getAttribute("data-refresh"), 10) || 10) * 1000;
  function tick() {
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-refresh]");
        if (fresh) box.innerHTML = fresh.innerHTML;
      })
      .catch(function () { /* keep the old code; the next tick tries again */ })
      .then(function () { window.setTimeout(tick, every); });
  }
  window.setTimeout(tick, every);
})();
