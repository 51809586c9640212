// Small progressive enhancements; every page works without them. No inline script anywhere (CSP).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.addEventListener("click", function (event) {
  if (event.target.closest && event.target.closest(".js-print")) window.print();
});
// Bring the page up to date in place after an action done by script (ballots issued, voting opened elsewhere):
// the page is fetched again and every part of <main> is replaced, except those named in `keep` (a progress bar
// and its message stay as they are). Without it a clerk would see stale numbers until a manual reload.
window.TrustVote = window.TrustVote || {};
window.TrustVote.refreshPage = function (keep) {
  "use strict";
  keep = keep || [];
  return fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
    .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
    .then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
      var main = document.querySelector("main");
      if (!fresh || !main) { return; }
      Array.prototype.slice.call(fresh.children).forEach(function (part) {
        var kept = part.id && keep.indexOf(part.id) >= 0 && document.getElementById(part.id);
        if (!kept) { return; }
        fresh.replaceChild(kept, part);
      });
      Array.prototype.slice.call(fresh.querySelectorAll("script")).forEach(function (script) { script.remove(); });
      main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes));
      document.dispatchEvent(new CustomEvent("trustvote:refreshed"));
    });
};
