// The venue checklist's clock: the server's time (in the page) against this computer's, which the clerk trusts.
(function () {
  "use strict";
  var item = document.getElementById("venue-clock");
  if (!item) { return; }
  var minutes = Math.round(Math.abs(Date.now() / 1000 - Number(item.dataset.server)) / 60);
  var ok = minutes <= 1;
  item.className = "venue-item " + (ok ? "venue-ok" : "venue-problem");
  var state = item.querySelector(".venue-state");
  state.textContent = "";
  var sign = document.createElement("span");
  sign.setAttribute("aria-hidden", "true");
  sign.textContent = ok ? "✓" : "✗";
  state.appendChild(sign);
  state.appendChild(document.createTextNode(" " + (ok ? item.dataset.ok : item.dataset.problem)));
  item.querySelector(".hint").textContent = ok ? item.dataset.same : item.dataset.differs.replace("{minutes}", minutes);
})();
