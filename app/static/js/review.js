// The review screen of a scanned sheet, keyboard first: Enter on the focused button confirms the scanner's reading
// (one keystroke); a digit typed there moves to "my own reading" with that digit; each digit shows against its
// candidate; a code typed for an unread QR moves on to the marks with Enter. The forms work without this script.
(function () {
  var own = document.querySelector("form.js-own");
  if (!own) return;
  var marks = own.querySelector("input[name=marks]");
  var confirm = document.querySelector("form.js-confirm button");
  // a row of the review keeps its own classes (a doubtful row is marked so): only "current" and "keyed" change
  var show = window.TrustVote.paperMarks(own, document.querySelectorAll(".review-rows li"), function (row, value, current) {
    row.classList.toggle("current", current && marks.value.length > 0);
    row.classList.toggle("keyed", value !== "");
  }, true);

  if (confirm) {
    confirm.addEventListener("keydown", function (event) {
      if (/^[0-4]$/.test(event.key)) {
        event.preventDefault();
        marks.focus();
        marks.value = event.key;
        show();
      }
    });
  }
})();
