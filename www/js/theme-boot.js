// theme-boot.js - a classic script in <head>: applies the saved theme before
// the first paint, so a dark-theme user never sees a white flash.
(function () {
  try {
    var t = localStorage.getItem("msgr.theme");
    if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
  } catch (e) {
    /* storage blocked: follow the system */
  }
})();
