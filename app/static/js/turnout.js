// Live turnout on the board's page: issued / cast / remaining every few seconds, counts only.
(function () {
  "use strict";
  var section = document.querySelector("[data-turnout]");
  if (!section || !window.fetch) { return; }
  function refresh() {
    fetch(section.dataset.turnout, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (numbers) {
        if (!numbers) { return; }
        ["issued", "cast", "remaining"].forEach(function (field) {
          var cell = section.querySelector("[data-field=" + field + "]");
          if (cell) { cell.textContent = numbers[field]; }
        });
      })
      .catch(function () {})
      .then(function () { window.setTimeout(refresh, 3000); });
  }
  window.setTimeout(refresh, 3000);
})();
