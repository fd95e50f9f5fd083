// Background jobs: while a job on the page is queued or running, ask its status every two seconds and move
// its progress bar; when it finishes, reload the page to show the result. A static file: the pages' CSP
// allows no inline script.
(function () {
  "use strict";
  var INTERVAL_MS = 2000;

  function unfinished() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-job-status]"), function (el) {
      var state = el.getAttribute("data-job-state");
      return state === "queued" || state === "running";
    });
  }

  function show(el, job) {
    var bar = el.querySelector("progress");
    var state = el.querySelector(".job-state");
    var numbers = el.querySelector(".job-numbers");
    if (bar && job.total) {
      bar.max = job.total;
      bar.value = job.done;
      bar.removeAttribute("data-indeterminate");
    }
    if (state) {
      state.textContent = job.state_label;
      state.className = "job-state job-state-" + job.state;
    }
    if (numbers) {
      numbers.textContent = job.progress_text;
    }
    el.setAttribute("data-job-state", job.state);
  }

  function poll() {
    var pending = unfinished();
    if (!pending.length) {
      return;
    }
    var finished = false;
    Promise.all(pending.map(function (el) {
      return fetch(el.getAttribute("data-job-status"), {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (job) {
          if (job) {
            show(el, job);
            finished = finished || job.finished;
          }
        })
        .catch(function () { return null; });
    })).then(function () {
      if (finished) {
        window.location.reload();
      } else {
        window.setTimeout(poll, INTERVAL_MS);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    window.setTimeout(poll, INTERVAL_MS);
  });
}());
