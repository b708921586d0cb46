// The kitchen display (/kitchen/) and expo (/kitchen/expo/): kitchen/templates/kitchen/display.html.
//
// A station screen (?station=oven, several: ?station=oven,grill) shows only its items of an order and
// which other stations the order waits on; a free item (no station) is shown everywhere. `?types=`
// narrows the screen to order types. Expo shows whole orders with a progress bar per station.
// What a ticket's button does (the order's next step) and how long a bumped order may be recalled
// are the server's rules, read from the page's `display-config`.

import { Versions, clockTime, connectLive, pageData, restaurantZone, shortNumber, showConnection } from "./live.js";
import { showPause, wirePauseControls } from "./pause.js";

const config = pageData("display-config");
const EXPO = config.expo, READ_ONLY = config.read_only;
// Minutes past which a ticket turns amber, then red, per order type.
const THRESHOLDS = { dine_in: [10, 20], takeout: [8, 15], delivery: [12, 25] };
const params = new URLSearchParams(location.search);
const stationTypes = params.get("types") ? params.get("types").split(",") : null;
const stations = params.get("station") ? params.get("station").split(",") : null;
const orders = new Map(); // number -> ticket
const bumped = new Map(); // number -> time bumped here (for recall)
const versions = new Versions();
let firstSnapshot = true, audio = null, menuVersion = -1;
// The server's clock to this browser's (from each snapshot's `now`): an order for later is held, in
// the "Later" strip and not a ticket to start, until its `fire_at` by the server's clock.
let serverOffset = 0;
const heldNow = new Set(); // numbers shown in the Later strip at the last render

document.getElementById("station").textContent = [stations, stationTypes]
  .filter(Boolean)
  .map((list) => "— " + list.join(", "))
  .join(" ");
document.addEventListener("click", () => { audio = audio || new (window.AudioContext || window.webkitAudioContext)(); }, { once: true });

function beep() {
  if (!audio) return;
  const osc = audio.createOscillator(), gain = audio.createGain();
  osc.frequency.value = 880;
  gain.gain.value = 0.2;
  osc.connect(gain).connect(audio.destination);
  osc.start();
  osc.stop(audio.currentTime + 0.25);
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

// A note that names an allergy or a "no ..." is what a cook must not miss: shown in red.
const ALERT = /\b(allerg\w*|no|without|gluten|nut\w*|vegan)\b/i;
function note(text) {
  return el("span", text, ALERT.test(text) ? "note alert" : "note");
}

function ours(item) { return !stations || item.station == null || stations.includes(item.station); }
function shown(ticket) {
  return (!stationTypes || stationTypes.includes(ticket.order_type)) && ticket.items.some(ours);
}
function fireTime(ticket) { return ticket.fire_at ? Date.parse(ticket.fire_at) + serverOffset : null; }
function isHeld(ticket) { return ticket.status === "received" && fireTime(ticket) > Date.now(); }
// A ticket ages from when the kitchen was to start it: an order for later from its fire time.
function ageMinutes(ticket) { return (Date.now() - (fireTime(ticket) || Date.parse(ticket.created_at))) / 60000; }
// A time on the restaurant's clock (its zone, whatever the tablet's).
function localTime(moment) { return clockTime(moment, restaurantZone()); }

function card(ticket, counts) {
  const node = el("article", undefined, "ticket");
  node.dataset.number = ticket.order_number;
  // The number the board calls, big; the full one small beside it.
  const top = el("div", undefined, "top");
  top.append(el("span", shortNumber(ticket.order_number), "short"), el("span", ticket.order_type.replace("_", " "), "type"));
  if (ticket.priority >= 5) top.append(el("span", "P" + ticket.priority, "priority"));
  node.append(top, el("div", ticket.order_number, "full"));
  node.append(el("div", ticket.table_number != null ? "Table " + ticket.table_number : (ticket.delivery_address || "Pick-up"), "where"));
  const list = el("ul");
  for (const item of ticket.items.filter(ours)) {
    const line = el("li", item.name + " × " + item.quantity, item.prepared ? "prepared" : undefined);
    if (ticket.status === "cooking" && !EXPO && !READ_ONLY) {
      // Tap an item to mark it done at this station (tap again within a minute to undo).
      line.classList.add("markable");
      line.title = item.prepared ? "prepared by " + item.prepared_by + ": tap to undo" : "tap when done";
      line.addEventListener("click", () => send({ action: item.prepared ? "unprepare" : "prepare", order_number: ticket.order_number, item: item.id }));
    }
    if (item.modifiers && item.modifiers.length) line.append(el("span", item.modifiers.join(", "), "mods"));
    if (item.notes) line.append(note(item.notes));
    list.append(line);
    if (ticket.status !== "ready" && !item.prepared) counts.set(item.name, (counts.get(item.name) || 0) + item.quantity);
  }
  node.append(list);
  const elsewhere = [...new Set(ticket.items.filter((item) => !ours(item)).map((item) => item.station))];
  if (elsewhere.length) node.append(el("div", "Also on: " + elsewhere.join(", "), "elsewhere"));
  if (ticket.notes) node.append(note(ticket.notes));
  const meta = el("div", undefined, "meta");
  meta.append(el("span", "", "age"));
  if (ticket.processed_by) meta.append(el("span", " · " + ticket.processed_by));
  if (ticket.estimated_completion) meta.append(el("span", " · ETA " + localTime(ticket.estimated_completion)));
  if (ticket.promised_at) meta.append(el("span", " · due " + localTime(ticket.promised_at), "due"));
  node.append(meta);
  if (EXPO) node.append(...progress(ticket));
  const next = config.next_steps[ticket.status];
  if (next) {
    const button = el("button", next.label, next.action);
    button.addEventListener("click", () => send({ action: next.action, order_number: ticket.order_number }));
    node.append(button);
  }
  return node;
}

// The orders for later not yet fired, soonest first: number, type, when it fires and is due, its items.
function renderLater(held) {
  const strip = document.getElementById("later");
  heldNow.clear();
  strip.replaceChildren();
  if (!held.length) return;
  strip.append(el("strong", "Later:"));
  for (const ticket of held.sort((a, b) => fireTime(a) - fireTime(b))) {
    heldNow.add(ticket.order_number);
    const entry = el("span", undefined, "held");
    entry.dataset.number = ticket.order_number;
    entry.title = ticket.order_number + ": " + ticket.items.filter(ours).map((item) => item.name + " × " + item.quantity).join(", ");
    const count = ticket.items.filter(ours).reduce((sum, item) => sum + item.quantity, 0);
    entry.append(
      el("span", shortNumber(ticket.order_number), "short"),
      el("span", " " + ticket.order_type.replace("_", " ") + " · " + count + " items · fire "),
      el("span", localTime(ticket.fire_at), "fire"),
      el("span", ticket.promised_at ? " · due " + localTime(ticket.promised_at) : ""),
    );
    strip.append(entry);
  }
}

function render(newNumbers) {
  for (const status of ["received", "cooking", "ready"]) document.getElementById("col-" + status).replaceChildren();
  const counts = new Map(), held = [];
  for (const ticket of orders.values()) {
    if (shown(ticket) && isHeld(ticket)) { held.push(ticket); continue; }
    const column = shown(ticket) && document.getElementById("col-" + ticket.status);
    if (!column) continue;
    const node = card(ticket, counts);
    if (newNumbers && newNumbers.has(ticket.order_number)) node.classList.add("flash");
    column.append(node);
  }
  // How many tickets each column holds: on a wall screen those below a full column are out of sight.
  for (const status of ["received", "cooking", "ready"]) {
    const count = document.getElementById("col-" + status).childElementCount;
    document.getElementById("count-" + status).textContent = count ? String(count) : "";
  }
  const strip = document.getElementById("allday");
  strip.replaceChildren(el("strong", "All day:"));
  for (const [name, count] of [...counts].sort((a, b) => b[1] - a[1])) strip.append(el("span", count + " × " + name));
  renderLater(held);
  renderRecalls();
  tick();
}

function progress(ticket) {
  const byStation = new Map();
  for (const item of ticket.items) {
    const station = item.station || "other", [done, all] = byStation.get(station) || [0, 0];
    byStation.set(station, [done + (item.prepared ? 1 : 0), all + 1]);
  }
  return [...byStation].map(([station, [done, all]]) => {
    const bar = el("span", undefined, "bar"), fill = el("span");
    fill.style.width = (ticket.status === "ready" ? 100 : (100 * done) / all) + "%";
    bar.append(fill);
    const row = el("div", undefined, "progress");
    row.dataset.station = station;
    row.append(el("span", `${station} ${ticket.status === "ready" ? all : done}/${all}`), bar);
    return row;
  });
}

function renderRecalls() {
  const box = document.getElementById("recalls");
  box.replaceChildren();
  if (!config.recall) return;
  for (const [number, at] of bumped) {
    if (Date.now() - at > config.recall.window_ms) { bumped.delete(number); continue; }
    const button = el("button", config.recall.label + " " + number);
    button.addEventListener("click", () => send({ action: config.recall.action, order_number: number }));
    box.append(button);
  }
}

function tick() {
  // An order for later whose fire time came: a new ticket to start, as if it had just arrived.
  const fired = [...heldNow].filter((number) => orders.has(number) && !isHeld(orders.get(number)));
  if (fired.length) {
    beep();
    render(new Set(fired));
    return;
  }
  for (const node of document.querySelectorAll(".ticket")) {
    const ticket = orders.get(node.dataset.number);
    if (!ticket) continue;
    const minutes = ageMinutes(ticket), [amber, red] = THRESHOLDS[ticket.order_type] || [10, 20];
    node.classList.toggle("amber", minutes >= amber && minutes < red);
    node.classList.toggle("red", minutes >= red);
    node.querySelector(".age").textContent = Math.floor(minutes) + ":" + String(Math.floor(minutes * 60) % 60).padStart(2, "0");
  }
}

// The 86 list: what the menu has sold out, from the snapshot or a menu event; an older or the same
// version (a snapshot after a reconnect) changes nothing.
function showMenu(menu) {
  if (!menu || !(menu.version > menuVersion)) return;
  menuVersion = menu.version;
  const names = [...menu.items, ...menu.options];
  document.getElementById("eightysix").textContent = names.length ? "86: " + names.join(" · ") : "";
}

// Speed of service: the last hour's median and 90th percentile of received → ready, late and overdue
// tickets. The server sends them with the snapshot and pushes them as `speed` messages.
function clock(seconds) {
  return seconds == null ? "–" : Math.floor(seconds / 60) + ":" + String(Math.round(seconds % 60)).padStart(2, "0");
}
function showSpeed(speed) {
  if (!speed) return;
  // A station screen shows its own figure: received → its items marked prepared.
  const own = (stations || []).filter((code) => speed.stations && speed.stations[code]).map((code) => {
    const figure = speed.stations[code];
    return `${code}: ${figure.items} items · median ${clock(figure.median_seconds)} · 90% ${clock(figure.p90_seconds)} · `;
  });
  document.getElementById("speed").replaceChildren(
    el("span", own.length ? "Last hour: " + own.join("") : `Last hour: ${speed.orders} ready · median ${clock(speed.median_seconds)} · 90% ${clock(speed.p90_seconds)} · `),
    el("span", `late ${speed.late} · overdue ${speed.overdue}`, speed.late || speed.overdue ? "late" : undefined),
  );
}

function applySnapshot(message) {
  if (message.now) serverOffset = Date.now() - Date.parse(message.now);
  const before = new Set(orders.keys());
  orders.clear();
  for (const ticket of message.orders) orders.set(ticket.order_number, ticket);
  versions.reset(message.version, message.orders.map((ticket) => [ticket.order_number, ticket.version]));
  const fresh = new Set(firstSnapshot ? [] : [...orders.keys()].filter((number) => !before.has(number)));
  firstSnapshot = false;
  if ([...fresh].some((number) => shown(orders.get(number)))) beep();
  render(fresh);
}

function applyUpdate(message) {
  const ticket = message.order, known = orders.get(ticket.order_number);
  if (!versions.accept(ticket.order_number, message.version)) return; // stale or repeated
  if (ticket.status === "completed" || ticket.status === "cancelled") {
    orders.delete(ticket.order_number);
    if (ticket.status === "completed") bumped.set(ticket.order_number, Date.now());
    render();
    return;
  }
  orders.set(ticket.order_number, ticket);
  if (ticket.status === "ready") bumped.delete(ticket.order_number);
  const fresh = known ? null : new Set([ticket.order_number]);
  if (fresh && shown(ticket) && !isHeld(ticket)) beep();
  render(fresh);
}

function apply(message) {
  if (message.type === "snapshot" || message.type === "menu") showMenu(message.menu);
  if (message.type === "snapshot" || message.type === "speed") showSpeed(message.speed);
  if (message.type === "snapshot" || message.type === "pause") showPause(message.pause);
  if (message.type === "snapshot") applySnapshot(message);
  else if (message.type === "order") applyUpdate(message);
  else if (message.type === "error") document.getElementById("message").textContent = Object.values(message.errors).flat().join("; ");
  else if (message.type === "done") document.getElementById("message").textContent = "";
}

const conn = document.getElementById("conn");
const { send } = connectLive(config.socket, {
  onMessage: apply,
  onConnection: (up) => showConnection(conn, up),
  stopOn: [4403],
  onStop: () => { document.getElementById("message").textContent = "Not allowed: log in as kitchen staff."; },
});
setInterval(() => { tick(); renderRecalls(); }, 1000);
wirePauseControls((text) => { document.getElementById("message").textContent = text; });
