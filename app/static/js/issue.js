// Issue and print ballots with a progress bar: the server streams progress lines, then the PDF itself.
// Without JavaScript the same form simply downloads the PDF.
(function () {
  "use strict";
  var form = document.querySelector("form.js-issue");
  if (!form || !window.fetch || !window.ReadableStream) { return; }

  function concat(chunks, length) {
    var all = new Uint8Array(length), at = 0;
    chunks.forEach(function (chunk) { all.set(chunk, at); at += chunk.length; });
    return all;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    var box = form.querySelector(".progress-box");
    var bar = box.querySelector("progress");
    var text = box.querySelector(".progress-text");
    var decoder = new TextDecoder();
    var total = Number(form.querySelector("[name=count]").value);
    button.disabled = true;
    box.hidden = false;
    bar.removeAttribute("value");
    text.textContent = "";

    function fail(message) {
      text.textContent = form.dataset.failed + " " + message;
      text.classList.add("error");
      button.disabled = false;
    }

    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/x-ndjson" }
    }).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (body) { fail(body.error || response.statusText); },
                                    function () { fail(response.statusText); });
      }
      var reader = response.body.getReader();
      var pending = new Uint8Array(0), pdfLength = null, filename = "phieu.pdf", parts = [], received = 0;

      function takeLines() {
        // progress lines until the one that announces the PDF; every byte after it belongs to the PDF
        while (pdfLength === null) {
          var newline = pending.indexOf(10);
          if (newline < 0) { return; }
          var line = JSON.parse(decoder.decode(pending.subarray(0, newline)));
          pending = pending.subarray(newline + 1);
          if (line.error) { throw new Error(line.error); }
          if (line.pdf !== undefined) {
            pdfLength = line.pdf; filename = line.filename;
          } else {
            bar.max = total; bar.value = line.done;
            text.textContent = form.dataset.working.replace("{done}", line.done).replace("{total}", total);
          }
        }
      }

      function pump() {
        return reader.read().then(function (step) {
          if (step.value) {
            if (pdfLength === null) {
              var joined = new Uint8Array(pending.length + step.value.length);
              joined.set(pending); joined.set(step.value, pending.length);
              pending = joined;
              takeLines();
              if (pdfLength !== null && pending.length) { parts.push(pending); received += pending.length; }
            } else {
              parts.push(step.value); received += step.value.length;
            }
          }
          if (!step.done) { return pump(); }
          if (pdfLength === null || received !== pdfLength) { throw new Error("incomplete"); }
          var link = document.createElement("a");
          link.href = URL.createObjectURL(new Blob([concat(parts, received)], { type: "application/pdf" }));
          link.download = filename;
          document.body.appendChild(link);
          link.click();
          text.textContent = form.dataset.done;
          button.disabled = false;
          // the state, the numbers, "open voting" and the batch list follow at once; the message stays
          window.TrustVote.refreshPage(["issue"]);
        });
      }
      return pump();
    }).catch(function (error) { fail(error.message); });
  });
})();
