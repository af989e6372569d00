/* gridbot console: tick the SLA countdowns (.cd[data-left] seconds, rendered by the server)
   down once a minute; a paused one (data-paused) stays. No dependencies. */
(function () {
  "use strict";
  var started = Date.now();
  function duration(seconds) {
    var left = Math.floor(Math.abs(seconds) / 60);
    var days = Math.floor(left / 1440), hours = Math.floor((left % 1440) / 60), minutes = left % 60;
    if (days) return hours ? days + "天" + hours + "小时" : days + "天";
    if (hours) return minutes ? hours + "小时" + minutes + "分" : hours + "小时";
    return minutes ? minutes + "分" : "不到1分";
  }
  function tick() {
    var elapsed = Math.floor((Date.now() - started) / 1000);
    document.querySelectorAll(".cd[data-left]").forEach(function (el) {
      if (el.dataset.paused) return;
      var total = el.dataset.total ? parseInt(el.dataset.total, 10) : null;
      var left = parseInt(el.dataset.left, 10) - elapsed;
      var b = el.querySelector("b");
      if (b) b.textContent = (left < 0 ? "超时" : "剩") + duration(left);
      if (left < 0) { el.classList.remove("cd-green", "cd-amber"); el.classList.add("cd-red"); }
      else if (total && left <= total / 2) { el.classList.remove("cd-green"); el.classList.add("cd-amber"); }
    });
  }
  document.addEventListener("htmx:afterSwap", function () { started = Date.now(); });
  setInterval(tick, 60000);
})();
