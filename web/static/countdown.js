// Live countdowns on the dashboard: every <time data-countdown> shows the
// hours and minutes left to its datetime, or how long ago it passed.
(function () {
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("datetime")) - Date.now()) / 60000);
      var m = Math.abs(left), h = Math.floor(m / 60);
      el.textContent = left >= 0 ? h + " h " + pad(m % 60) + " min left" : "overdue by " + h + " h " + pad(m % 60) + " min";
      el.classList.toggle("overdue", left < 0);
    });
  }
  tick();
  setInterval(tick, 30000);
})();
