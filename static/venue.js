// Venue check-in screen: swap in a fresh QR code and count every 10 s without reloading the
// page (a timed full-page refresh breaks screen readers and zoom; without script the page
// falls back to <noscript> meta refresh).
(function () {
  "use strict";
  var box = document.querySelector(".venue[data-refresh]");
  if (!box || !window.fetch || !window.DOMParser) return;
  var every = Math.max(5, parseInt(box.getAttribute("data-refresh"), 10) || 10) * 1000;
  function tick() {
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(".venue[data-refresh]");
        if (fresh) box.innerHTML = fresh.innerHTML;
      })
      .catch(function () { /* keep the old code; the next tick tries again */ })
      .then(function () { window.setTimeout(tick, every); });
  }
  window.setTimeout(tick, every);
})();
