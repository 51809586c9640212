// The kiosk: scan or type a ballot's code, mark one level per person, confirm, and reset for the next voter.
// Nothing of a voter is kept: no cookie, no storage, no history entry; the camera is off while a ballot is open.
(function () {
  "use strict";
  var root = document.getElementById("kiosk");
  if (!root) { return; }
  var text = JSON.parse(document.getElementById("kiosk-text").textContent);
  var roundId = root.dataset.round ? Number(root.dataset.round) : null;
  var tablet = root.dataset.tablet;
  var screens = {
    scan: document.getElementById("scan-screen"), ballot: document.getElementById("ballot-screen"),
    confirm: document.getElementById("confirm-screen"), recorded: document.getElementById("recorded-screen")
  };
  var form = document.getElementById("code-form");
  var input = document.getElementById("code");
  var scanError = document.getElementById("scan-error");
  var video = document.getElementById("camera-video");
  // on /b, which serves any round, the header names the round of the ballot open
  var headOrg = document.querySelector(".kiosk-head .kiosk-org");
  var headRound = document.querySelector(".kiosk-head .kiosk-round");
  var headGeneric = headRound.textContent;
  var LEVELS = [["1", text.high], ["2", text.trust], ["3", text.low]];
  var current = null;      // {code, ballot, marks, submission} of the voter at the tablet, and nothing else
  var paperLine = null;    // what the voter does with the paper sheet once recorded (the round's practice)
  var stream = null, scanning = false, busy = false, resetTimer = null;
  var generation = 0;      // one per voter: a retry still pending for the voter before is dropped
  // The QR the camera last acted on: while that sheet stays in view it is not read again (a voter's sheet left
  // under the camera after the reset, a refused sheet held up), and it is forgotten once the camera sees no code.
  var handled = null, misses = 0;
  var FORGET_AFTER = 3;    // frames without any code

  // A new screen: the others hidden, and the focus on its heading, so that a screen reader says what appeared
  // (a USB barcode scanner still types into the code field: see the keydown handler below).
  function show(name) {
    Object.keys(screens).forEach(function (key) { screens[key].hidden = key !== name; });
    window.scrollTo(0, 0);
    var heading = screens[name].querySelector("h1");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  }
  var announcer = document.getElementById("kiosk-announce");
  function announce(message) { announcer.textContent = message; }

  // ---- the delegate's display settings: text size and high contrast, reset with everything else ----------------
  var html = document.documentElement;
  var display = document.getElementById("kiosk-display");
  var sizeButtons = Array.prototype.slice.call(display.querySelectorAll("button[data-size]"));
  var contrastButton = document.getElementById("kiosk-contrast");
  function setSize(size) {
    html.classList.remove("kiosk-size-2", "kiosk-size-3");
    if (size !== "1") { html.classList.add("kiosk-size-" + size); }
    sizeButtons.forEach(function (button) { button.setAttribute("aria-pressed", String(button.dataset.size === size)); });
  }
  function setContrast(on) {
    html.classList.toggle("kiosk-contrast", on);
    contrastButton.setAttribute("aria-pressed", String(on));
  }
  sizeButtons.forEach(function (button) {
    button.addEventListener("click", function () { setSize(button.dataset.size); });
  });
  contrastButton.addEventListener("click", function () {
    setContrast(contrastButton.getAttribute("aria-pressed") !== "true");
  });
  display.hidden = false;
  function el(tag, cls, content) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (content !== undefined) { node.textContent = content; }
    return node;
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-Tablet": tablet },
      body: JSON.stringify(body)
    });
  }
  // Seconds the server asks to wait before sending the same again (Retry-After), within bounds.
  function waitOf(response, fallback) {
    var seconds = Number(response.headers.get("Retry-After"));
    return Math.min(Math.max(isFinite(seconds) && seconds > 0 ? seconds : fallback, 1), 30) * 1000;
  }
  // The server could not answer for now (busy, its database unreachable, a proxy without it): the same request
  // is sent again, which is safe (a cast carries its submission id: recorded once, never twice).
  function isTemporary(status) { return status === 502 || status === 503 || status === 504; }
  var MAX_RETRIES = 20;    // about a minute and a half of the server's own Retry-After, then the voter decides

  function randomId() {
    var bytes = new Uint8Array(18);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // ---- scanning -------------------------------------------------------------------------------------
  function fail(message, fromCamera) {
    scanError.textContent = message;
    scanError.hidden = false;
    busy = false;
    if (fromCamera) { return; }  // leave alone what someone may be typing
    input.value = "";
    input.focus();
  }
  function openBallot(code, fromCamera, attempt) {
    if (busy && !attempt) { return; }
    busy = true;
    scanError.hidden = true;
    var body = { code: code };
    if (roundId) { body.round = roundId; }
    post(root.dataset.openUrl, body).then(function (response) {
      if (isTemporary(response.status) && (attempt || 0) < MAX_RETRIES) {
        scanError.textContent = text.retrying;
        scanError.hidden = false;
        var mine = generation;
        window.setTimeout(function () {
          if (mine === generation) { openBallot(code, fromCamera, (attempt || 0) + 1); }
        }, waitOf(response, 2));
        return null;
      }
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (answer) {
      if (answer === null) { return; }
      if (!answer.ok) { fail(answer.data.message || text.network, fromCamera); return; }
      stopCamera();
      current = { code: code, ballot: answer.data, marks: answer.data.candidates.map(function () { return "0"; }),
                  submission: randomId() };
      paperLine = answer.data.after_vote;
      input.value = "";
      if (!roundId) {
        headOrg.textContent = answer.data.committee + " · " + answer.data.conference;
        headOrg.hidden = false;
        headRound.textContent = answer.data.title;
      }
      renderBallot();
      busy = false;
    }).catch(function () {
      if (fromCamera) { handled = null; }  // not an answer about this sheet: read it again
      fail(text.network, fromCamera);
    });
  }
  function cameraRead(found) {
    if (!found) {
      misses += 1;
      if (misses >= FORGET_AFTER) { handled = null; }
      return;
    }
    misses = 0;
    if (found === handled || !scanning || busy || current) { return; }
    handled = found;
    openBallot(found, true);
  }
  // A barcode scanner is a keyboard: on the scan screen, a character typed while the focus is elsewhere (on the
  // heading a new screen focuses) goes into the code field, which the focus moves to before the key lands.
  document.addEventListener("keydown", function (event) {
    if (screens.scan.hidden || event.ctrlKey || event.altKey || event.metaKey || event.key.length !== 1) { return; }
    var target = event.target;
    if (target === input || (target.closest && target.closest("button, a, input, select, textarea"))) { return; }
    input.focus();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (input.value.trim()) { openBallot(input.value.trim()); }
  });

  function stopCamera() {
    scanning = false;
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
    stream = null;
    video.srcObject = null;
    document.getElementById("camera").hidden = true;
  }
  // no camera, none allowed, or a page not in a secure context (plain HTTP): say so, and offer the code field
  // Outside a secure context (the venue's certificate not installed on this tablet) the page says what to do.
  var cameraOff = el("p", "camera-off", window.isSecureContext ? text.camera_off : text.camera_insecure);
  if (!window.isSecureContext) {
    var install = el("a", "", text.install);
    install.href = root.dataset.installUrl;
    cameraOff.appendChild(document.createTextNode(" "));
    cameraOff.appendChild(install);
  }
  cameraOff.hidden = true;
  screens.scan.insertBefore(cameraOff, form);
  var BALLOT_OPEN = {};
  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { cameraOff.hidden = false; return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      if (current) {  // a typed code opened a ballot while the camera was starting: it stays off
        s.getTracks().forEach(function (track) { track.stop(); });
        throw BALLOT_OPEN;
      }
      stream = s;
      video.srcObject = s;
      document.getElementById("camera").hidden = false;
      cameraOff.hidden = true;
      return video.play();
    }).then(function () {
      scanning = true;
      var detector = ("BarcodeDetector" in window) ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
      scanLoop(detector);
    }).catch(function (reason) {
      document.getElementById("camera").hidden = true;
      cameraOff.hidden = reason === BALLOT_OPEN;
    });
  }
  function scanLoop(detector) {
    if (!scanning) { return; }
    var next = function () { window.setTimeout(function () { scanLoop(detector); }, 350); };
    if (busy || !video.videoWidth) { next(); return; }
    if (detector) {
      detector.detect(video).then(function (codes) {
        cameraRead(codes.length ? codes[0].rawValue : null);
        next();
      }).catch(function () { detector = null; next(); });
      return;
    }
    // no BarcodeDetector in this browser: the server reads the frame (zxing-cpp)
    var canvas = document.createElement("canvas");
    var scale = Math.min(1, 960 / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob(function (blob) {
      fetch(root.dataset.scanUrl, { method: "POST", body: blob, credentials: "omit", cache: "no-store",
                                    headers: { "Content-Type": "image/jpeg", "X-Tablet": tablet } })
        .then(function (response) { return response.json(); })
        .then(function (data) { cameraRead(data.found ? data.text : null); next(); })
        .catch(next);
    }, "image/jpeg", 0.8);
  }

  // ---- the ballot ------------------------------------------------------------------------------------
  function renderBallot() {
    var screen = screens.ballot;
    screen.textContent = "";
    screen.appendChild(el("h1", "", text.ballot_title));
    var list = el("ol", "ballot");
    current.ballot.candidates.forEach(function (candidate, index) {
      var row = el("li", "ballot-row");
      var who = el("div", "who");
      who.appendChild(el("span", "name", candidate.name));
      who.appendChild(el("span", "post", candidate.post));
      row.appendChild(who);
      var choices = el("div", "choices");
      choices.setAttribute("role", "group");
      choices.setAttribute("aria-label", candidate.name);
      LEVELS.forEach(function (level) {
        var button = el("button", "choice choice-" + level[0], level[1]);
        button.type = "button";
        button.setAttribute("aria-pressed", "false");
        button.addEventListener("click", function () {
          // pressing the chosen level again clears the row
          current.marks[index] = current.marks[index] === level[0] ? "0" : level[0];
          Array.prototype.forEach.call(choices.children, function (other, i) {
            other.setAttribute("aria-pressed", String(current.marks[index] === LEVELS[i][0]));
          });
          announce(current.marks[index] === "0" ? text.unmarked_name.replace("{name}", candidate.name)
            : text.marked_name.replace("{name}", candidate.name).replace("{level}", level[1]));
        });
        choices.appendChild(button);
      });
      row.appendChild(choices);
      list.appendChild(row);
    });
    screen.appendChild(list);
    var next = el("button", "primary huge", text.next);
    next.type = "button";
    next.addEventListener("click", renderConfirm);
    screen.appendChild(next);
    show("ballot");
  }

  function renderConfirm() {
    var screen = screens.confirm;
    screen.textContent = "";
    screen.appendChild(el("h1", "", text.confirm_title));
    // A warning only, mirroring the count: what an unmarked row means is the round's rule, which comes with the
    // ballot from the server (invalid_mark_policy); a tablet cannot tick two boxes, so "0" is the only flaw here.
    var unmarked = current.marks.filter(function (m) { return m === "0"; }).length;
    var note = unmarked === 0 ? text.all_marked
      : (current.ballot.invalid_mark_policy === "ballot" ? text.unmarked_ballot : text.unmarked_row)
          .replace("{count}", unmarked);
    screen.appendChild(el("p", unmarked ? "kiosk-warning" : "hint", note));
    var list = el("ol", "summary");
    current.ballot.candidates.forEach(function (candidate, index) {
      var item = el("li", current.marks[index] === "0" ? "unmarked" : "");
      item.appendChild(el("span", "name", candidate.name));
      var level = LEVELS.filter(function (l) { return l[0] === current.marks[index]; })[0];
      item.appendChild(el("span", "level level-" + current.marks[index], level ? level[1] : text.none));
      list.appendChild(item);
    });
    screen.appendChild(list);
    var status = el("p", "hint", "");
    status.setAttribute("role", "status");
    var buttons = el("div", "buttons");
    var back = el("button", "huge", text.back);
    back.type = "button";
    back.addEventListener("click", function () { show("ballot"); });
    var confirm = el("button", "primary huge", text.confirm);
    confirm.type = "button";
    confirm.addEventListener("click", function () { send(confirm, back, status, 0); });
    buttons.appendChild(back);
    buttons.appendChild(confirm);
    screen.appendChild(buttons);
    screen.appendChild(status);
    show("confirm");
  }

  function send(confirm, back, status, attempt) {
    confirm.disabled = back.disabled = true;
    status.textContent = attempt ? text.retrying : text.sending;
    var body = { code: current.code, marks: current.marks.join(""), submission: current.submission };
    if (roundId) { body.round = roundId; }
    post(root.dataset.castUrl, body).then(function (response) {
      if (isTemporary(response.status) && attempt < MAX_RETRIES) {
        // nothing was acknowledged: the same submission id again, after the server's Retry-After
        status.textContent = text.retrying;
        var mine = generation;
        window.setTimeout(function () {
          if (mine === generation) { send(confirm, back, status, attempt + 1); }
        }, waitOf(response, 2));
        return null;
      }
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (answer) {
      if (answer === null) { return; }
      if (answer.ok) { recorded(answer.data.status === "recorded" ? text.recorded : text.recorded_again); return; }
      status.textContent = answer.data.message || text.network;
      confirm.disabled = back.disabled = false;
    }).catch(function () {
      // the answer was lost: the same submission id again is safe, recorded once, never twice
      if (attempt < MAX_RETRIES) {
        var mine = generation;
        window.setTimeout(function () { if (mine === generation) { send(confirm, back, status, attempt + 1); } }, 1500);
        return;
      }
      status.textContent = text.network;
      confirm.disabled = back.disabled = false;
    });
  }

  function recorded(message) {
    current = null;
    screens.ballot.textContent = "";
    screens.confirm.textContent = "";
    document.getElementById("recorded-text").textContent = message;
    // the paper sheet of a ballot cast here must not reach the box: the board's practice, from the round
    document.getElementById("recorded-paper").textContent = paperLine || "";
    paperLine = null;
    show("recorded");
    resetTimer = window.setTimeout(reset, Number(root.dataset.reset) * 1000);
  }

  // everything of the voter before, off the page and out of memory
  function forget() {
    generation += 1;
    window.clearTimeout(resetTimer);
    resetTimer = null;
    current = null;
    busy = false;
    screens.ballot.textContent = "";
    screens.confirm.textContent = "";
    scanError.hidden = true;
    scanError.textContent = "";
    document.getElementById("recorded-text").textContent = "";
    document.getElementById("recorded-paper").textContent = "";
    paperLine = null;
    announce("");
    setSize("1");
    setContrast(false);
    input.value = "";
    if (!roundId) {
      headOrg.textContent = "";
      headOrg.hidden = true;
      headRound.textContent = headGeneric;
    }
    show("scan");
  }
  function reset() {
    forget();
    startCamera();
  }

  // A QR opened in a camera app brings the code in the fragment: read it, then wipe it from the address bar
  // (and so from the history) before anything else.
  function takeFragment() {
    var fragment = window.location.hash.slice(1);
    if (fragment) { window.history.replaceState(null, "", window.location.pathname); }
    return fragment;
  }
  var fragment = takeFragment();
  if (fragment) {
    openBallot(fragment);
  } else {
    startCamera();
  }
  // a camera app may open the next sheet's URL in this same tab: only the fragment changes, the page stays
  window.addEventListener("hashchange", function () {
    var next = takeFragment();
    if (!next || current) { return; }
    if (resetTimer) { reset(); }  // still thanking the voter before: the next one is here
    openBallot(next);
  });
  // Leaving the page (or the back button) takes nothing with it, and a page the browser kept in its
  // back-forward cache comes back as the empty scan screen.
  window.addEventListener("pagehide", function () { forget(); handled = null; stopCamera(); });
  window.addEventListener("pageshow", function (event) { if (event.persisted) { reset(); } });
})();
