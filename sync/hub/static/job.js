// The job page follows its job without a reload: it asks for the job's state twice a second
// until the job has finished (a file: the Content-Security-Policy allows no inline script).
(function () {
  "use strict";
  var section = document.getElementById("job");
  if (!section || section.dataset.finished === "yes") { return; }
  var url = section.dataset.status;
  function show(job) {
    document.getElementById("job-state").textContent = job.state_words;
    document.getElementById("job-state").className = "job-state job-" + job.state;
    document.getElementById("job-progress").value = job.percent;
    document.getElementById("job-line").textContent = job.line;
    document.getElementById("job-note").textContent = job.download_note;
    document.getElementById("job-finished").textContent = job.finished_at;
    if (job.download) {
      document.getElementById("job-file").href = job.download;
      document.getElementById("job-download").hidden = false;
    }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (job) { show(job); }
        if (!job || !job.finished) { window.setTimeout(poll, 500); }
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 300);
}());
