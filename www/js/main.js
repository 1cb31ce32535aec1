// main.js - start-up: the sign-in screen or the app, and the switch between
// them when the session starts or ends (in this tab or another).

import * as auth from "./auth.js";
import { renderAuth } from "./ui/authview.js";
import { startApp, stopApp } from "./ui/app.js";
import { toast } from "./ui/overlay.js";
import { clearDrafts } from "./drafts.js";

const root = document.getElementById("app");
let running = false;

function boot() {
  if (auth.loggedIn()) {
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
    if (why !== "expired") clearDrafts();
    history.replaceState(null, "", location.pathname);
    renderAuth(root);
    if (why === "expired") toast("Your session has ended. Please sign in again.", "error", 6000);
  }
});

boot();
