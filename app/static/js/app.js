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

// The keyboard entry of a paper sheet's marks, shared by the entry page and the scan review page: the code's Enter
// (a scanner's) moves on to the marks; "no readable code" disables the code; each digit typed (0-4) shows against
// its candidate, `markRow(row, digit, current)` styling the row; `ready` counts the rows left (`quietWhenEmpty`:
// nothing said before the first digit). Returns the function that redraws, for a script that sets the marks itself.
window.TrustVote.paperMarks = function (form, rows, markRow, quietWhenEmpty) {
  var code = form.querySelector("input[name=code]");
  var noCode = form.querySelector("input[name=no_code]");
  var marks = form.querySelector("input[name=marks]");
  var ready = form.querySelector(".entry-ready");
  var total = parseInt(form.getAttribute("data-candidates"), 10);
  if (code) {
    code.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        if (code.value.trim()) marks.focus();
      }
    });
  }
  if (code && noCode) {
    noCode.addEventListener("change", function () {
      code.disabled = noCode.checked;
      if (noCode.checked) marks.focus(); else code.focus();
    });
  }
  function show() {
    var clean = marks.value.replace(/[^0-4]/g, "").slice(0, total);
    if (clean !== marks.value) marks.value = clean;
    for (var i = 0; i < rows.length; i++) {
      var cell = rows[i].querySelector(".row-mark");
      var labels = cell.getAttribute("data-labels").split("|");
      var value = clean.charAt(i);
      cell.textContent = value === "" ? "" : value + " · " + labels[parseInt(value, 10)];
      markRow(rows[i], value, value === "" && i === clean.length);
    }
    var left = total - clean.length;
    if (quietWhenEmpty && clean.length === 0) ready.textContent = "";
    else ready.textContent = left === 0 ? ready.getAttribute("data-ready") : ready.getAttribute("data-left").replace("{left}", left);
  }
  marks.addEventListener("input", show);
  show();
  return show;
};
