// One touchscreen for the resident, the guard and the privacy notice. Any page other than the
// resident screen goes back to it after kiosk.idle_return_s without a touch, and a verdict that
// needs someone (a fever, a fault, a held visitor, an alarm) is brought forward at once: the
// page's onUrgent handler decides how (the guard screen, unlocked, shows it itself).
"use strict";

const display = (() => {
  const URGENT = new Set(["blocked", "fault", "sensor_fault", "not_recorded", "held", "guard_remeasure"]);
  // Someone stepped up to the sensor: the resident screen is theirs (an unlocked guard page the
  // guard walked away from must not stay up for them: field trial).
  const ACTIVITY = new Set(["measuring", "awaiting_guard"]);
  const idleMs = Number(document.body.dataset.idleReturnS || 30) * 1000;
  const state = { lastTouch: Date.now(), idleReturn: () => true, onUrgent: null, onActivity: null };
  const toResident = () => window.location.replace("/");
  for (const kind of ["pointerdown", "keydown"]) {
    document.addEventListener(kind, () => { state.lastTouch = Date.now(); }, true);
  }
  setInterval(() => {
    if (state.idleReturn() && Date.now() - state.lastTouch > idleMs) toResident();
  }, 1000);

  async function follow() {
    let version = null;
    for (;;) {
      try {
        const query = version === null ? "" : "?after=" + version;
        const response = await fetch("/api/state" + query, { cache: "no-store" });
        if (!response.ok) throw new Error(response.status);
        const screen = await response.json();
        // Only a verdict that arrives while this page is up: a standing one was already seen.
        if (version !== null && screen.version !== version) {
          if (URGENT.has(screen.screen)) {
            if (state.onUrgent) state.onUrgent(screen); else toResident();
          } else if (ACTIVITY.has(screen.screen)) {
            if (state.onActivity) state.onActivity(screen); else toResident();
          } else if (screen.visitor) {
            // The visitor the guard just registered has been measured: they read their verdict
            // on the resident screen (the guard's session stays; /guard is one touch away).
            toResident();
          }
        }
        version = screen.version;
      } catch (error) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
  follow();
  return { state, toResident };
})();
