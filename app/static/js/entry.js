// Paper entry at speed: a scanner types the code and Enter, which moves on to the marks instead of submitting;
// each digit typed shows against its candidate; Enter records the sheet. The form works without this script.
(function () {
  var form = document.querySelector("form.js-entry");
  if (!form) return;
  var code = form.querySelector("input[name=code]");
  var noCode = form.querySelector("input[name=no_code]");
  var marks = form.querySelector("input[name=marks]");
  var ready = form.querySelector(".entry-ready");
  var rows = document.querySelectorAll(".entry-rows li");
  var total = parseInt(form.getAttribute("data-candidates"), 10);

  code.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      if (code.value.trim()) marks.focus();
    }
  });
  noCode.addEventListener("change", function () {
    code.disabled = noCode.checked;
    if (noCode.checked) marks.focus(); else code.focus();
  });

  function show() {
    var clean = marks.value.replace(/[^0-4]/g, "").slice(0, total);
    if (clean !== marks.value) marks.value = clean;
    for (var i = 0; i < rows.length; i++) {
      var cell = rows[i].querySelector(".row-mark");
      var labels = cell.getAttribute("data-labels").split("|");
      var value = clean.charAt(i);
      cell.textContent = value === "" ? "" : value + " · " + labels[parseInt(value, 10)];
      rows[i].className = value === "" ? (i === clean.length ? "current" : "") : "mark-" + value;
    }
    var left = total - clean.length;
    ready.textContent = left === 0 ? ready.getAttribute("data-ready") : ready.getAttribute("data-left").replace("{left}", left);
  }
  marks.addEventListener("input", show);
  show();
})();
