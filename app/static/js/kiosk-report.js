// A kiosk page tells the server, once as it loads, whether it runs in a secure context (the venue's certificate
// installed, app/venue) and whether the browser offers a camera: the venue checklist lists each tablet so.
// Nothing of a voter is sent, and a failure changes nothing on the page.
(function () {
  "use strict";
  var root = document.querySelector("[data-report-url]");
  if (!root || !window.fetch) { return; }
  fetch(root.dataset.reportUrl, {
    method: "POST", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      secure: window.isSecureContext === true,
      camera: !!(window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia)
    })
  }).catch(function () { /* the checklist will say the tablet was not seen */ });
})();
