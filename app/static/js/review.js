// The review screen of a scanned sheet, keyboard first: Enter on the focused button confirms the scanner's reading
// (one keystroke); a digit typed there moves to "my own reading" with that digit; each digit shows against its
// candidate; a code typed for an unread QR moves on to the marks with Enter. The forms work without this script.
(function () {
  var own = document.querySelector("form.js-own");
  if (!own) return;
  var marks = own.querySelector("input[name=marks]");
  var code = own.querySelector("input[name=code]");
  var noCode = own.querySelector("input[name=no_code]");
  var ready = own.querySelector(".entry-ready");
  var rows = document.querySelectorAll(".review-rows li");
  var total = parseInt(own.getAttribute("data-candidates"), 10);
  var confirm = document.querySelector("form.js-confirm button");

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
  if (code) {
    code.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        if (code.value.trim()) marks.focus();
      }
    });
  }
  if (noCode && code) {
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
      rows[i].classList.toggle("current", value === "" && i === clean.length && clean.length > 0);
      rows[i].classList.toggle("keyed", value !== "");
    }
    var left = total - clean.length;
    if (clean.length === 0) ready.textContent = "";
    else ready.textContent = left === 0 ? ready.getAttribute("data-ready") : ready.getAttribute("data-left").replace("{left}", left);
  }
  marks.addEventListener("input", show);
  show();
})();
