// A form marked js-unsaved says so once something in it changed, and the browser asks before leaving the page
// with those changes unsaved (a link, a reload, another form's button). Saving the form itself is not asked about.
(function () {
  "use strict";
  document.querySelectorAll("form.js-unsaved").forEach(function (form) {
    var dirty = false, note = form.querySelector(".unsaved-note");
    function changed() {
      if (dirty) { return; }
      dirty = true;
      form.classList.add("is-dirty");
      if (note) { note.textContent = form.dataset.unsaved; }
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (!dirty) { return; }
      event.preventDefault();
      event.returnValue = "";  // older Chromium needs a value to ask
    });
  });
})();
