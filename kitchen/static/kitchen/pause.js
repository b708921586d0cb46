// The ASAP pause ("kitchen busy", orders/pause.py) on the kitchen display and expo (display.html): a
// banner while new ASAP orders are paused, which ends by itself when the pause does (by the server's
// clock: each pause the server sends carries its `now`), and on expo, for a Manager, the buttons that
// post to /kitchen/expo/pause/ (kitchen/views.py: kitchen_pause). A change reaches every screen through
// its socket (`{"type": "pause", "pause": …}`, and the snapshot's `pause`).

/** The banner's text for a pause as the server sends it, or "" when there is none. */
export function pauseText(pause) {
  if (!pause || !pause.paused_until) return "";
  return "New ASAP orders paused until " + pause.until_local + (pause.paused_by ? " (" + pause.paused_by + ")" : "");
}

/** How long the pause still lasts when it was sent, in ms (0: none, or over), by the server's clock. */
export function pauseLeftMs(pause) {
  if (!pause || !pause.paused_until) return 0;
  return Math.max(0, Date.parse(pause.paused_until) - Date.parse(pause.now));
}

let ending = null;

/** Show `pause` in #pause until it ends (a newer pause, or none, replaces it). */
export function showPause(pause, document = globalThis.document) {
  const banner = document.getElementById("pause"), left = pauseLeftMs(pause);
  clearTimeout(ending);
  banner.textContent = left ? pauseText(pause) : "";
  banner.hidden = !left;
  if (left) ending = setTimeout(() => showPause(null, document), left);
}

/** The expo's pause buttons, when the page has them (a Manager's): the form posted with the pressed
 * button's value and the page's CSRF token; `onMessage(text)` shows a refusal ("" clears it). */
export function wirePauseControls(onMessage, document = globalThis.document) {
  const form = document.getElementById("pause-controls");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      // getAttribute: `form.action` would be the form's button named "action" (resume).
      const response = await fetch(form.getAttribute("action"), { method: "POST", body: new FormData(form, event.submitter), credentials: "same-origin" });
      const body = await response.json().catch(() => null);
      if (response.ok) {
        showPause(body, document);
        onMessage("");
      } else {
        onMessage(body && body.errors ? Object.values(body.errors).flat().join("; ") : "Pause refused (" + response.status + ")");
      }
    } catch {
      onMessage("Pause not sent: no connection");
    }
  });
}
