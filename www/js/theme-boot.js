// theme-boot.js - a classic script in <head>: applies the saved theme before
// the first paint, so a dark-theme user never sees a white flash; and the
// language the app will start in (i18n.js startLanguage(): this browser's
// last one, else the first of its languages the app speaks), so that the
// static "Loading…" of index.html is read in it before any catalogue is
// fetched (app.css shows the one of <html lang>).
(function () {
  try {
    var t = localStorage.getItem("msgr.theme");
    if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
  } catch (e) {
    /* storage blocked: follow the system */
  }
  var speaks = ["en", "ru", "uk"];
  var lang = null;
  try {
    lang = localStorage.getItem("msgr.lang");
  } catch (e) {
    lang = null;
  }
  var list = navigator.languages || [navigator.language];
  for (var i = 0; speaks.indexOf(lang) < 0 && i < list.length; i++) lang = String(list[i] || "").toLowerCase().split("-")[0];
  document.documentElement.lang = speaks.indexOf(lang) < 0 ? "en" : lang;
})();
