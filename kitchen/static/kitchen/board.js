// The customer board (/board/): kitchen/templates/kitchen/board.html. Numbers of the day under
// "Preparing" and "Ready for pick-up", the newest ready one highlighted for its first 30 s.

import { Versions, clockTime, connectLive, pageData, restaurantZone, shortNumber, showConnection } from "./live.js";

const FRESH_MS = 30 * 1000; // how long the newest ready order stays highlighted
// number -> {status, readyAt, fireAt (ms by this browser's clock, or null), promisedAt (the time promised)}
const orders = new Map();
const versions = new Versions();
let audio = null, freshTimer = null, fireTimer = null, offset = 0; // offset: the server's clock to this browser's

function showClock() {
  document.getElementById("clock").textContent = clockTime(Date.now(), restaurantZone());
}
showClock();
setInterval(showClock, 1000);

// ORD_YYYYMMDD_NNN: orders sort by day, then by their number of the day.
function byNumber(a, b) {
  const [, dayA = "", seqA = "0"] = a.split("_"), [, dayB = "", seqB = "0"] = b.split("_");
  return dayA.localeCompare(dayB) || Number(seqA) - Number(seqB) || a.localeCompare(b);
}

function fill(id, numbers, fresh) {
  const list = document.getElementById(id);
  list.replaceChildren(...numbers.map((number) => {
    const item = document.createElement("li");
    item.className = number === fresh ? "number fresh" : "number";
    item.dataset.number = number;
    item.title = number;
    item.textContent = shortNumber(number);
    const promised = id === "preparing" && orders.get(number).promisedAt;
    if (promised) item.append(Object.assign(document.createElement("small"), { className: "due", textContent: clockTime(promised, restaurantZone()) }));
    return item;
  }));
  document.getElementById(id + "-count").textContent = numbers.length ? String(numbers.length) : "";
}

// An order for later is not on the board until the kitchen starts it (its fire time).
function held(order) { return order.status === "received" && order.fireAt > Date.now(); }
function fireAt(order) { return order.fire_at ? Date.parse(order.fire_at) + offset : null; }

function render() {
  const preparing = [], ready = [];
  for (const [number, order] of orders) if (!held(order)) (order.status === "ready" ? ready : preparing).push(number);
  preparing.sort(byNumber);
  ready.sort((a, b) => (orders.get(b).readyAt || 0) - (orders.get(a).readyAt || 0) || byNumber(b, a));
  const age = ready.length ? Date.now() - (orders.get(ready[0]).readyAt || 0) : Infinity;
  const fresh = age < FRESH_MS ? ready[0] : null;
  fill("preparing", preparing, null);
  fill("ready", ready, fresh);
  clearTimeout(freshTimer);
  if (fresh) freshTimer = setTimeout(render, FRESH_MS - age + 50);
  const nextFire = Math.min(...[...orders.values()].filter(held).map((order) => order.fireAt));
  clearTimeout(fireTimer);
  if (nextFire < Infinity) fireTimer = setTimeout(render, Math.min(nextFire - Date.now() + 50, 2 ** 31 - 1));
}

function applySnapshot(message) {
  offset = Date.now() - Date.parse(message.now);
  orders.clear();
  for (const order of message.orders) {
    orders.set(order.order_number, { status: order.status, readyAt: order.ready_at ? Date.parse(order.ready_at) + offset : null, fireAt: fireAt(order), promisedAt: order.promised_at });
  }
  versions.reset(message.version, message.orders.map((order) => [order.order_number, order.version]));
  render();
}

function applyUpdate(message) {
  const order = message.order, number = order.order_number;
  if (!versions.accept(number, message.version)) return; // stale or repeated
  const known = orders.get(number);
  if (order.status === "completed" || order.status === "cancelled") {
    orders.delete(number);
  } else {
    const turnedReady = order.status === "ready" && !(known && known.status === "ready");
    const readyAt = order.status !== "ready" ? null : turnedReady ? Date.now() : known.readyAt;
    orders.set(number, { status: order.status, readyAt, fireAt: fireAt(order), promisedAt: order.promised_at });
    if (turnedReady) chime();
  }
  render();
}

// Browsers play no sound before a click on the page: the chime starts off, the button turns it on.
function chime() {
  if (!audio) return;
  [[880, 0], [660, 0.35]].forEach(([frequency, at]) => {
    const osc = audio.createOscillator(), gain = audio.createGain(), start = audio.currentTime + at;
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.4, start);
    gain.gain.exponentialRampToValueAtTime(0.001, start + 0.6);
    osc.connect(gain).connect(audio.destination);
    osc.start(start);
    osc.stop(start + 0.6);
  });
}

function toggleChime(event) {
  const button = event.currentTarget;
  if (audio) {
    audio.close();
    audio = null;
  } else {
    audio = new (window.AudioContext || window.webkitAudioContext)();
    chime();
  }
  button.setAttribute("aria-pressed", audio ? "true" : "false");
  button.textContent = audio ? "Chime: on" : "Chime: off";
}

function showLive(up) {
  showConnection(document.getElementById("conn"), up, up ? "live" : "reconnecting…");
  document.body.classList.toggle("offline", !up); // a board that lost its server says so, big
}

// A board whose address names unknown order types has no socket, only its explanation and the clock.
if (document.getElementById("board-config")) {
  const config = pageData("board-config"), types = pageData("board-types");
  // What the socket told the board, for the browser tests to watch (tests/kitchen/test_browser.py).
  globalThis.orders = orders;
  document.getElementById("chime").addEventListener("click", toggleChime);
  connectLive(config.socket + "?types=" + encodeURIComponent(types.join(",")), {
    onMessage: (message) => {
      if (message.type === "snapshot") applySnapshot(message);
      else if (message.type === "order") applyUpdate(message);
    },
    onConnection: showLive,
  });
}
