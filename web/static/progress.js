// The breach page's fan-out progress bar follows the sending live: it asks
// the dashboard for the progress every two seconds until the fan-out is
// done, then reloads the page once to show the outcome.
(function () {
  var bar = document.querySelector("progress[data-progress]");
  if (!bar) return;
  var text = document.getElementById("fanout-text");
  function poll() {
    fetch(bar.getAttribute("data-progress"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (p) {
        bar.max = p.total;
        bar.value = p.sent;
        var pct = p.total ? Math.floor(p.sent * 100 / p.total) : 0;
        text.textContent = p.sent + " of " + p.total + " (" + pct + "%) · " + (p.done ? "done" : "sending");
        if (p.done || p.uncertain) { window.location.reload(); return; }
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 10000); });
  }
  setTimeout(poll, 2000);
})();
