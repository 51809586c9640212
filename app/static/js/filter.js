// A search box that narrows a long server-rendered list as one types (a province's 100+ communes): the rows whose
// text does not hold what was typed are hidden, compared without case or Vietnamese diacritics (đ as d). Without
// script the same box searches on the server.
(function () {
  "use strict";
  function fold(text) {
    return text.replace(/đ/g, "d").replace(/Đ/g, "D").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .toLowerCase().replace(/\s+/g, " ").trim();
  }
  document.querySelectorAll("input.js-filter").forEach(function (box) {
    box.addEventListener("input", function () {
      var wanted = fold(box.value);
      document.querySelectorAll(box.dataset.filter).forEach(function (row) {
        var chosen = row.querySelector("input:checked");
        row.hidden = !chosen && wanted !== "" && fold(row.textContent).indexOf(wanted) < 0;
      });
    });
    // Enter filters in place when the whole list is on the page; a list cut short is searched on the server
    box.form.addEventListener("submit", function (event) {
      if (box.dataset.complete === "yes") { event.preventDefault(); }
    });
  });
})();
