// The batch upload of scanned sheets: the files (and camera photos) are sent one at a time, a progress bar moves
// with each, and each page's outcome is listed as it comes back (read, to review with the reason, set aside,
// refused with its message). Without this script the form sends every file at once and the page lists the same.
(function () {
  var form = document.querySelector("form.js-scans");
  if (!form) return;
  var box = document.querySelector(".scan-progress");
  var bar = box.querySelector("progress");
  var status = box.querySelector("p");
  var list = document.querySelector(".scan-results");
  var none = document.querySelector(".scan-none");
  var token = form.querySelector("input[name=csrf_token]").value;

  function say(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, key) { return values[key]; });
  }

  function item(cls, head, text, link) {
    var li = document.createElement("li");
    li.className = cls;
    var strong = document.createElement("strong");
    strong.textContent = head;
    li.appendChild(strong);
    li.appendChild(document.createTextNode(": " + text + " "));
    if (link) {
      var a = document.createElement("a");
      a.href = link;
      a.textContent = form.getAttribute("data-review");
      li.appendChild(a);
    }
    list.appendChild(li);
    if (none) none.hidden = true;
  }

  function send(file) {
    var body = new FormData();
    body.append("csrf_token", token);
    body.append("file", file, file.name);
    return fetch(form.action, {method: "POST", body: body, credentials: "same-origin",
                               headers: {"Accept": "application/json"}})
      .then(function (response) {
        return response.json().catch(function () { return {error: response.status + " " + response.statusText}; });
      });
  }

  form.addEventListener("submit", function (event) {
    var files = [];
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      for (var i = 0; i < input.files.length; i++) files.push(input.files[i]);
    });
    if (!files.length) return;  // the server says what to choose
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    box.hidden = false;
    bar.max = files.length;
    bar.value = 0;
    var pages = 0;
    var chain = Promise.resolve();
    files.forEach(function (file, index) {
      chain = chain.then(function () {
        status.textContent = say(form.getAttribute("data-sending"), {file: file.name, number: index + 1, total: files.length});
        return send(file).then(function (answer) {
          if (answer.error) {
            item("scan-refused", file.name, say(form.getAttribute("data-failed"), {file: file.name, reason: answer.error}));
          } else {
            var tag = document.querySelector(".heading .tag");
            if (tag) tag.textContent = say(form.getAttribute("data-pending"), {count: answer.pending});
            answer.pages.forEach(function (page) {
              pages += 1;
              item("scan-" + page.outcome, page.source + (page.page ? ", " + page.page : ""),
                   [page.message].concat(page.reasons).join(" "), page.review);
            });
          }
        }, function (error) {
          item("scan-refused", file.name, say(form.getAttribute("data-failed"), {file: file.name, reason: String(error)}));
        }).then(function () { bar.value = index + 1; });
      });
    });
    chain.then(function () {
      status.textContent = say(form.getAttribute("data-done"), {pages: pages, files: files.length});
      button.disabled = false;
      form.reset();
    });
  });
})();
