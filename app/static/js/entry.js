// Paper entry at speed: a scanner types the code and Enter, which moves on to the marks instead of submitting;
// each digit typed shows against its candidate; Enter records the sheet. The form works without this script.
(function () {
  var form = document.querySelector("form.js-entry");
  if (!form) return;
  window.TrustVote.paperMarks(form, document.querySelectorAll(".entry-rows li"), function (row, value, current) {
    row.className = value === "" ? (current ? "current" : "") : "mark-" + value;
  }, false);
})();
