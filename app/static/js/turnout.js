// Live turnout on the board's page: issued / cast / remaining every few seconds, counts only. When the round's
// state changed meanwhile (voting opened or closed from another device), the whole page is brought up to date.
(function () {
  "use strict";
  if (!document.querySelector("[data-turnout]") || !window.fetch) { return; }
  function refresh() {
    var section = document.querySelector("[data-turnout]");  // looked up each time: a refresh replaces it
    if (!section) { return; }
    fetch(section.dataset.turnout, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (numbers) {
        if (!numbers) { return; }
        ["issued", "cast", "remaining"].forEach(function (field) {
          var cell = section.querySelector("[data-field=" + field + "]");
          if (cell) { cell.textContent = numbers[field]; }
        });
        if (numbers.state !== section.dataset.state && window.TrustVote) {
          return window.TrustVote.refreshPage(["issue"]);
        }
      })
      .catch(function () {})
      .then(function () { window.setTimeout(refresh, 3000); });
  }
  window.setTimeout(refresh, 3000);
})();
