// Order tracking (/track/<number>/): kitchen/templates/kitchen/track.html. One order's public status
// (no name, address or items) as a step bar, and the time it was promised for, on the restaurant's
// clock (its zone from the page's config), live through its socket.

import { Versions, connectLive, pageData, showConnection } from "./live.js";
import { clockText, whenText } from "./ordering.js";

const LABELS = { received: "Received", cooking: "Cooking", ready: "Ready for pick-up", completed: "Completed", cancelled: "Cancelled" };
// How a ready order reaches its guest: they fetch a takeout, a dine-in is brought, a delivery leaves.
const READY = { takeout: "Ready for pick-up", dine_in: "Ready: on its way to your table", delivery: "Ready: out for delivery" };
const STEPS = ["received", "cooking", "ready", "completed"];
const config = pageData("track-config");
const versions = new Versions();
const conn = document.getElementById("conn");

function showStep(status) {
  const current = STEPS.indexOf(status); // -1 when cancelled: no step is reached
  document.getElementById("steps").classList.toggle("cancelled", status === "cancelled");
  document.querySelectorAll("#steps li").forEach((step, index) => {
    step.classList.toggle("done", index < current || status === "completed");
    step.classList.toggle("current", index === current && status !== "completed");
    if (index === current) step.setAttribute("aria-current", "step");
    else step.removeAttribute("aria-current");
  });
}

/** "Ready by 19:45" (with the day when it is not today) until the order is ready; while it is held
 * for later, when the kitchen starts it. */
let fired = null; // the timer that drops the "ordered for later" line at the fire time (nothing is sent then)
function showPromise(order) {
  const waiting = ["received", "cooking"].includes(order.status) && order.promised_at;
  const now = Date.now();
  const held = waiting && order.fire_at && Date.parse(order.fire_at) > now;
  document.getElementById("promise").textContent = waiting ? `Ready by ${whenText(order.promised_at, config.time_zone, now)}` : "";
  document.getElementById("held").textContent = held ? `Ordered for later: the kitchen starts it at ${whenText(order.fire_at, config.time_zone, now)}.` : "";
  clearTimeout(fired);
  if (held) fired = setTimeout(() => showPromise(order), Math.min(Date.parse(order.fire_at) - now + 1000, 2 ** 31 - 1));
}

function show(message) {
  // The socket sends the order's status on connecting, then each update.
  const order = message.order;
  if (message.type !== "order" || !versions.accept(order.order_number, message.version)) return;
  const label = order.status === "ready" ? READY[order.order_type] : LABELS[order.status];
  document.getElementById("status").textContent = label || order.status;
  const eta = order.estimated_completion;
  document.getElementById("eta").textContent = eta && order.status === "cooking" ? `ready around ${clockText(eta, config.time_zone)}` : "";
  showPromise(order);
  showStep(order.status);
  // A delivery leaves with a driver: it is not called on the counter's board (by default).
  document.getElementById("board").hidden = order.order_type === "delivery";
}

connectLive(config.socket, {
  onMessage: show,
  onConnection: (up) => showConnection(conn, up, up ? "live" : "reconnecting…"),
  stopOn: [4404],
  onStop: () => showConnection(conn, false, "No such order."),
});
