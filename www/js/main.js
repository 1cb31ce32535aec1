// main.js - start-up: the sign-in screen or the app, and the switch between
// them when the session starts or ends (in this tab or another).

import * as auth from "./auth.js";
import { renderAuth, resetToken } from "./ui/authview.js";
import { startApp, stopApp } from "./ui/app.js";
import { toast } from "./ui/overlay.js";
import { clearDrafts } from "./drafts.js";
import { t, setLanguage, startLanguage } from "./i18n.js";

const root = document.getElementById("app");
let running = false;

function boot() {
  if (resetToken() !== null) {
    // A reset link (#/reset?token=) opens its page even in a signed-in
    // tab: whoever follows it wants a new password.
    if (running) stopApp();
    running = false;
    renderAuth(root, "reset");
  } else if (auth.loggedIn()) {
    running = true;
    startApp(root);
  } else {
    running = false;
    renderAuth(root, location.hash === "#/register" ? "register" : "login");
  }
}

auth.onAuthChange((kind, why) => {
  if (kind === "login" && !running) {
    if (location.hash === "#/register") history.replaceState(null, "", "#/");
    boot();
  } else if (kind === "logout") {
    stopApp();
    running = false;
    // Only a chosen log-out takes the drafts along (drafts.js); a session
    // ended by the server keeps them for the same person signing in again.
    if (why !== "expired" && why !== "revoked" && why !== "banned") clearDrafts();
    history.replaceState(null, "", location.pathname);
    // Said on the card itself, not only in a toast: the person may look
    // at the screen long after it happened.
    const notice = why === "revoked" ? t("session.revoked") : why === "banned" ? t("session.banned")
      : why === "deleted" ? t("session.deleted") : "";
    renderAuth(root, "login", notice);
    if (why === "expired") toast(t("session.expired"), "error", 6000);
  }
});

// A reset link pasted into the tab changes only the hash; leaving the
// reset page while still signed in comes back here too (authview.js).
window.addEventListener("hashchange", () => {
  if (resetToken() !== null || (!running && auth.loggedIn())) boot();
});

// The catalogue first (i18n.js): every screen is drawn in its language.
// The account's own setting, when it differs, comes with the app (app.js).
await setLanguage(startLanguage());
boot();
