// The key cards' form on the count page: a QR scanner types a card's text and then Enter. Enter moves on to the
// next empty card field, so that the board scans its cards one after the other; the form is sent once every
// field holds a card (or when Enter is pressed in the last one).
(function () {
  "use strict";
  var form = document.querySelector("form.cards-form");
  if (!form) {
    return;
  }
  var fields = Array.prototype.slice.call(form.querySelectorAll("input[name='card']"));
  fields.forEach(function (field) {
    field.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") {
        return;
      }
      var empty = fields.filter(function (other) { return other.value.trim() === ""; });
      if (empty.length > 0 && field.value.trim() !== "") {
        event.preventDefault();
        empty[0].focus();
      }
    });
  });
})();
