// The guests' ordering page (/order/): kitchen/templates/kitchen/order.html. The menu by category,
// an item's sheet (its option groups, quantity and note), the cart, when the order should be ready
// (as soon as possible, or a slot of GET /slots) and the guest's details; the order goes to
// POST /orders on this same origin and the page then opens the order's tracking page. The menu stays
// live: the socket (/ws/menu/, through live.js) says when it changed and the page reads GET /menu
// (and the slots) again. What the page decides is in ordering.js; this file draws it. Text goes in with textContent.

import { connectLive, pageData, showConnection } from "./live.js";
import {
  Submission,
  asapChoice,
  asapText,
  cartLead,
  cartTotal,
  cents,
  choiceErrors,
  choiceStands,
  clampQuantity,
  dayName,
  errorPlaces,
  etagVersion,
  exactlyOne,
  groupFull,
  groupRule,
  initialChoice,
  lineProblem,
  lineUnitCents,
  localErrors,
  menuItems,
  money,
  newLine,
  orderBody,
  orderDays,
  outcomeMessage,
  pick,
  readAnswer,
  refusalSummary,
  TIME_REFUSALS,
  sameTime,
  signedMoney,
  slotBounds,
  slotChoices,
  slotDate,
  slotsCart,
  stillSold,
  suggestedSlot,
  suggestionText,
  touchesMenu,
  unitCents,
  whenText,
  zoneDate,
} from "./ordering.js";

const config = pageData("order-config");
const rules = config.rules;
const $ = (id) => document.getElementById(id);
const form = $("details");
const sheet = $("sheet");

let menu = config.menu;
let items = menuItems(menu);
let menuVersion = config.menu_version;
let wantedVersion = menuVersion;
const lines = [];
const submission = new Submission();
let sending = false;
let open = null; // the sheet's item: {sku, chosen: Set of option codes, opener: the button that opened it}

/** An element with properties (className, textContent, type, …) and children. */
function h(tag, properties = {}, ...children) {
  const node = Object.assign(document.createElement(tag), properties);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** Redraw with `draw` and give the focus back to the element of the same id, if it is still there. */
function keepingFocus(draw) {
  const focused = document.activeElement && document.activeElement.id;
  draw();
  if (focused && document.activeElement !== $(focused) && $(focused)) $(focused).focus();
}

const announce = (text) => {
  $("announce").textContent = text;
};

// --- the menu ----------------------------------------------------------------------------------

function itemButton(item) {
  const button = h(
    "button",
    { type: "button", className: "item", id: `item-${item.sku}`, disabled: !item.available },
    h("span", { className: "name", textContent: item.name }),
    h("span", { className: "price", textContent: money(cents(item.price)) }),
    item.description ? h("span", { className: "description", textContent: item.description }) : null,
    item.available ? null : h("span", { className: "sold-out", textContent: "Sold out" }),
  );
  button.dataset.sku = item.sku;
  button.addEventListener("click", () => openSheet(item.sku, button));
  return button;
}

function drawMenu() {
  const sections = menu.categories
    .filter((category) => category.items.length)
    .map((category) => {
      const heading = h("h3", { id: `category-${category.code}`, textContent: category.name });
      const section = h("section", { className: "category" }, heading);
      section.setAttribute("aria-labelledby", heading.id);
      section.append(h("ul", { className: "items" }, ...category.items.map((item) => h("li", {}, itemButton(item)))));
      return section;
    });
  $("categories").replaceChildren(...sections);
}

// --- an item's sheet ---------------------------------------------------------------------------

function openSheet(sku, opener) {
  const item = items.get(sku);
  if (!item || !item.available) return;
  open = { sku, chosen: initialChoice(item), opener };
  $("sheet-quantity").value = String(rules.quantity.min);
  $("sheet-notes").value = "";
  $("sheet-message").textContent = "";
  drawSheet();
  sheet.showModal();
  $("sheet-title").focus();
}

function optionLabel(group, option, inputType) {
  const input = h("input", { type: inputType, name: `group-${group.code}`, value: option.code, id: `option-${option.code}` });
  input.addEventListener("change", () => {
    open.chosen = pick(group, open.chosen, option.code, input.checked);
    $(`group-${group.code}-error`).textContent = "";
    updateSheet();
  });
  const delta = cents(option.price_delta);
  const aside = option.available ? (delta ? signedMoney(delta) : "") : "Sold out";
  return h(
    "label",
    { className: "option" },
    input,
    h("span", { className: "option-name", textContent: option.name }),
    h("span", { className: option.available ? "delta" : "delta sold-out", textContent: aside }),
  );
}

function groupFieldset(group) {
  const id = `group-${group.code}`;
  const rule = h("p", { className: "rule", id: `${id}-rule` });
  const fieldset = h("fieldset", { className: "group", id }, h("legend", { textContent: group.name }), rule);
  fieldset.setAttribute("aria-describedby", `${id}-rule ${id}-error`);
  const inputType = exactlyOne(group) ? "radio" : "checkbox";
  fieldset.append(...group.options.map((option) => optionLabel(group, option, inputType)));
  fieldset.append(h("p", { className: "error", id: `${id}-error` }));
  return fieldset;
}

function drawSheet() {
  const item = items.get(open.sku);
  $("sheet-title").textContent = item ? item.name : "No longer on the menu";
  $("sheet-description").textContent = item ? item.description : "";
  $("sheet-sold-out").hidden = Boolean(item && item.available);
  if (item) open.chosen = stillSold(item, open.chosen);
  keepingFocus(() => $("sheet-groups").replaceChildren(...(item ? item.modifier_groups.map(groupFieldset) : [])));
  updateSheet();
}

/** The sheet as `open.chosen` says: ticks, a full group's other options disabled, the price on the button. */
function updateSheet() {
  const item = items.get(open.sku);
  const quantity = clampQuantity($("sheet-quantity").value, rules.quantity);
  const sellable = Boolean(item && item.available);
  for (const group of item ? item.modifier_groups : []) {
    const full = groupFull(group, open.chosen);
    for (const option of group.options) {
      const input = $(`option-${option.code}`);
      input.checked = open.chosen.has(option.code);
      input.disabled = !option.available || (full && !input.checked);
    }
    const count = group.options.filter((option) => open.chosen.has(option.code)).length;
    $(`group-${group.code}-rule`).textContent = group.max === 1 ? groupRule(group) : `${groupRule(group)} · ${count} chosen`;
  }
  $("sheet-fewer").disabled = quantity <= rules.quantity.min;
  $("sheet-more").disabled = quantity >= rules.quantity.max;
  const add = $("sheet-add");
  add.disabled = !sellable;
  add.textContent = sellable ? `Add ${quantity} to order · ${money(unitCents(item, open.chosen) * quantity)}` : "Sold out";
}

function stepQuantity(by) {
  const quantity = clampQuantity($("sheet-quantity").value, rules.quantity);
  $("sheet-quantity").value = String(clampQuantity(quantity + by, rules.quantity));
  updateSheet();
}

function addToCart(event) {
  event.preventDefault();
  const item = items.get(open.sku);
  if (!item || !item.available) return;
  const errors = choiceErrors(item, open.chosen);
  for (const group of item.modifier_groups) $(`group-${group.code}-error`).textContent = errors[group.code] || "";
  const wrong = item.modifier_groups.find((group) => errors[group.code]);
  if (wrong) {
    $(`group-${wrong.code}`).querySelector("input:not(:disabled)")?.focus();
    return;
  }
  if (lines.length >= rules.lines.max) {
    $("sheet-message").textContent = `An order holds at most ${rules.lines.max} lines: change a quantity in your order instead.`;
    return;
  }
  const quantity = clampQuantity($("sheet-quantity").value, rules.quantity);
  lines.push(newLine(item, open.chosen, quantity, $("sheet-notes").value));
  sheet.close();
  drawCart();
  announce(`Added ${quantity} ${item.name} to your order. Total ${money(cartTotal(lines, items))}.`);
}

// --- the cart ----------------------------------------------------------------------------------

function lineButton(id, text, label, onClick, disabled = false) {
  const button = h("button", { type: "button", id, textContent: text, disabled });
  button.setAttribute("aria-label", label);
  button.addEventListener("click", onClick);
  return button;
}

function changeQuantity(line, by) {
  line.quantity = clampQuantity(line.quantity + by, rules.quantity);
  line.error = null;
  drawCart();
}

function removeLine(index) {
  const [line] = lines.splice(index, 1);
  drawCart();
  announce(`Removed ${line.name}.`);
  $("cart-title").focus();
}

function cartLine(line, index) {
  const id = `line-${index}`;
  const problem = lineProblem(line, items);
  const unit = lineUnitCents(line, items);
  const item = h("li", { className: problem && problem.blocking ? "line blocked" : "line", id });
  item.dataset.sku = line.sku;
  item.append(
    h(
      "div",
      { className: "line-head" },
      h("span", { className: "qty", textContent: `${line.quantity} ×` }),
      h("span", { className: "name", textContent: line.name }),
      h("span", { className: "amount", textContent: money(unit * line.quantity) }),
    ),
  );
  if (line.modifierNames.length) item.append(h("p", { className: "mods", textContent: line.modifierNames.join(", ") }));
  if (line.notes) item.append(h("p", { className: "notes", textContent: `Note: ${line.notes}` }));
  const said = [problem && problem.message, line.error].filter(Boolean);
  // The server's word and the menu's may say the same: the menu's (read after the refusal) is the plainer.
  const text = problem && problem.blocking ? problem.message : said.join(" ");
  item.append(h("p", { className: problem && !problem.blocking && !line.error ? "notice" : "error", id: `${id}-error`, textContent: text }));
  item.append(
    h(
      "div",
      { className: "line-actions" },
      lineButton(`${id}-fewer`, "−", `One fewer ${line.name}`, () => changeQuantity(line, -1), line.quantity <= rules.quantity.min),
      lineButton(`${id}-more`, "+", `One more ${line.name}`, () => changeQuantity(line, 1), line.quantity >= rules.quantity.max),
      lineButton(`${id}-remove`, "Remove", `Remove ${line.name}`, () => removeLine(index)),
    ),
  );
  return item;
}

function drawCart() {
  keepingFocus(() => $("cart-lines").replaceChildren(...lines.map(cartLine)));
  $("cart-empty").hidden = lines.length > 0;
  const total = money(cartTotal(lines, items));
  $("total").textContent = total;
  $("place-total").textContent = total;
  const count = lines.reduce((sum, line) => sum + line.quantity, 0);
  $("bar-count").textContent = count === 1 ? "1 item" : `${count} items`;
  $("bar-total").textContent = total;
  showBar();
  cartChanged();
}

// The bar at the foot of a phone's screen leads to the cart until the cart fills the screen's top
// two thirds (a cart just peeking in at the bottom is not in sight).
let checkoutInView = false;
function showBar() {
  $("cart-bar").hidden = !lines.length || checkoutInView;
}
new IntersectionObserver(
  ([entry]) => {
    checkoutInView = entry.isIntersecting;
    showBar();
  },
  { rootMargin: "0px 0px -35% 0px" },
).observe($("checkout"));


// --- when: as soon as possible, or a slot ------------------------------------------------------
// The slots come from GET /slots, a day at a time, asked with the cart (so each says whether the cart
// fits); the first answer (today's, by the server's date) names the restaurant's zone. All the days
// are read when the page opens (a closed day says so in the day picker); then today's, the shown
// day's and the chosen time's again when the cart changes (a moment after the last change), when the
// menu changes, and when the guest comes back to the page; a day read for another cart, when shown. The times move on with the server's clock (a phone's may be off).

const kitchen = config.kitchen;
const skew = Date.parse(kitchen.now) - Date.now();
const now = () => Date.now() + skew;
const answers = new Map(); // date → GET /slots' answer for that day
const askedWith = new Map(); // date → the cart its answer was asked with
let zone = null;
let today = null;
let shownDay = null;
let dayPicked = false; // the guest chose the shown day (or took a suggested time): it stays as they left it
// "asap", a slot's end (ISO, as GET /slots gave it), or null: nothing chosen. Until the guest chooses,
// "as soon as possible" is chosen while it can be had (and before the slots are read: the server's
// default, which it judges itself).
let when = "asap";
let guestChose = false;
let slotsFailed = false;

const dayAnswers = () => orderDays(today, kitchen.days_ahead).flatMap((date) => (answers.has(date) ? [answers.get(date)] : []));
const orderType = () => (config.table ? "dine_in" : form.elements.order_type.value);
const bounds = () => slotBounds(now(), cartLead(lines, items, kitchen, orderType()), kitchen);

async function readDay(date, cart) {
  const query = new URLSearchParams(date ? { date } : {});
  if (cart) query.set("items", cart);
  const response = await fetch(`${config.slots_url}?${query}`, { cache: "no-store", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`GET /slots: ${response.status}`);
  const answer = await response.json();
  answers.set(answer.date, answer);
  askedWith.set(answer.date, cart);
  zone = answer.time_zone;
  return answer;
}

/** Read today's slots (and every day's, or those of `also`) for the cart as it is now. */
async function readSlots({ everyDay = false, also = [] }) {
  const cart = slotsCart(lines);
  try {
    today = (await readDay(null, cart)).date;
    const days = orderDays(today, kitchen.days_ahead);
    const asapDays = [zoneDate(bounds().horizon, zone)]; // ASAP may reach past midnight
    const chosenDay = when && when !== "asap" ? [slotDate(when, zone)] : [];
    const wanted = everyDay ? days.slice(1) : [shownDay, ...chosenDay, ...also, ...asapDays].filter((date) => date && date !== today);
    await Promise.all([...new Set(wanted)].filter((date) => days.includes(date)).map((date) => readDay(date, cart)));
    slotsFailed = false;
  } catch {
    slotsFailed = true; // shown under the times; the next change, or coming back to the page, reads again
  }
  drawWhen();
}

// One reading at a time: what is asked meanwhile is read after it, with the cart as it is then.
let slotsReading = null;
let slotsWanted = null;
function refreshSlots({ everyDay = false, also = [] } = {}) {
  slotsWanted = { everyDay: everyDay || Boolean(slotsWanted && slotsWanted.everyDay), also: [...(slotsWanted ? slotsWanted.also : []), ...also] };
  slotsReading ??= (async () => {
    try {
      while (slotsWanted) {
        const wanted = slotsWanted;
        slotsWanted = null;
        await readSlots(wanted);
      }
    } finally {
      slotsReading = null;
    }
  })();
  return slotsReading;
}

let cartRead = null;
let cartTimer = null;
function cartChanged() {
  drawWhen(); // the lead may have changed: the times too soon for it go
  const cart = slotsCart(lines);
  if (cartRead === null || cart === cartRead) {
    cartRead ??= cart;
    return;
  }
  cartRead = cart;
  clearTimeout(cartTimer);
  cartTimer = setTimeout(() => refreshSlots(), 400); // a few taps on + read once
}

function chooseWhen(value) {
  when = value;
  guestChose = true;
  $("ready_at-error").textContent = "";
  drawWhen();
}

function slotRadio(choice) {
  const input = h("input", { type: "radio", name: "ready_at", value: choice.end, id: `slot-${shownDay}-${choice.label.replace(":", "")}` });
  input.disabled = choice.full;
  input.checked = when !== "asap" && when !== null && sameTime(when, choice.end);
  input.addEventListener("change", () => chooseWhen(choice.end));
  return h(
    "label",
    { className: choice.full ? "slot full" : "slot" },
    input,
    h("span", { className: "slot-time", textContent: choice.label }),
    choice.full ? h("span", { className: "slot-full", textContent: "Full" }) : null,
  );
}

function drawDays(days, limits) {
  const select = $("ready-day");
  const names = days.map((date) => {
    const answer = answers.get(date);
    const closed = answer && !slotChoices(answer, limits).length;
    return `${dayName(date, today)}${closed ? " · closed" : ""}`;
  });
  // Options replaced only when they read otherwise: a picker open on a phone is left alone.
  if (JSON.stringify(names) !== JSON.stringify([...select.options].map((option) => option.textContent))) {
    const options = days.map((date, index) => h("option", { value: date, textContent: names[index] }));
    keepingFocus(() => select.replaceChildren(...options));
  }
  select.value = shownDay;
}

// The times' box scrolls to the chosen time, else the first with room, when another day is shown or
// the page chose a time (not at every redraw, nor under the guest's finger at a tap).
let scrolledFor = null;
function scrollToChoice(choices) {
  if (!choices.length || shownDay === scrolledFor) return;
  scrolledFor = shownDay;
  const box = $("slots");
  const tile = box.querySelector("input:checked") || box.querySelector("input:not(:disabled)");
  box.scrollTop = tile ? tile.closest(".slot").offsetTop - 6 : 0;
}

/** The When field as the answers read so far say, for the cart and the clock now. */
function drawWhen() {
  if (today === null) {
    $("slots-hint").textContent = slotsFailed ? "The kitchen's times could not be read: check your connection." : "Reading the kitchen's times…";
    return;
  }
  const limits = bounds();
  const days = orderDays(today, kitchen.days_ahead);
  const known = dayAnswers();
  const asap = asapChoice(known, limits);
  const asapSays = asapText(asap, zone, limits.now);
  $("asap-label").textContent = asapSays.label;
  $("asap-hint").textContent = asapSays.hint;
  $("when-asap").disabled = asap.state !== "open";

  if (when !== null && !choiceStands(when, asap, known, limits)) {
    if (guestChose) {
      $("ready_at-error").textContent =
        when === "asap"
          ? "As soon as possible is no longer open: choose a time."
          : `Ready by ${whenText(when, zone, limits.now)} can no longer be had for this order: choose another time.`;
    }
    when = null;
  }
  if (when === null && !guestChose && asap.state === "open") when = "asap";
  $("when-asap").checked = when === "asap";

  if (!dayPicked || shownDay === null || !days.includes(shownDay)) {
    // The chosen slot's day; else today, or the day ASAP would open on, or be free again (again at
    // every draw until the guest picks a day: the days' answers come in one by one).
    const first = asap.state === "closed" ? asap.opens : ["full", "paused"].includes(asap.state) ? asap.next : null;
    shownDay = when && when !== "asap" ? slotDate(when, zone) : first ? slotDate(first, zone) : today;
  }
  drawDays(days, limits);

  const answer = answers.get(shownDay);
  const choices = answer ? slotChoices(answer, limits) : [];
  keepingFocus(() => $("slots").replaceChildren(...choices.map(slotRadio)));
  scrollToChoice(choices);
  let hint = "";
  if (slotsFailed) hint = "The kitchen's times could not be read: check your connection.";
  else if (!answer) hint = "Reading the kitchen's times…";
  else if (!answer.slots.length) hint = `We are closed ${shownDay === today ? "today" : `on ${dayName(shownDay, today)}`}.`;
  else if (!choices.length) hint = shownDay === today ? "No more times today: choose another day." : "Too far ahead: choose an earlier day.";
  else if (choices.every((choice) => choice.full)) hint = "Every time of this day is full for this order.";
  $("slots-hint").textContent = hint;
  $("when-summary").textContent =
    when && when !== "asap" ? `Your order will be ready by ${whenText(when, zone, limits.now)}.` : "";
}

$("when-asap").addEventListener("change", () => chooseWhen("asap"));
$("ready-day").addEventListener("change", () => {
  shownDay = $("ready-day").value;
  dayPicked = true;
  drawWhen();
  if (askedWith.get(shownDay) !== slotsCart(lines)) refreshSlots(); // read for another cart, or not yet
});
for (const radio of form.querySelectorAll("input[name=order_type]")) radio.addEventListener("change", drawWhen);

// --- the guest's details -----------------------------------------------------------------------

function reveal(checkbox, fieldId, inputId) {
  checkbox.addEventListener("change", () => {
    $(fieldId).hidden = !checkbox.checked;
    checkbox.setAttribute("aria-expanded", String(checkbox.checked));
    if (checkbox.checked) $(inputId).focus();
  });
}
reveal($("notify-sms"), "phone-field", "phone");
reveal($("notify-email"), "email-field", "email");
for (const radio of form.querySelectorAll("input[name=order_type]")) {
  radio.addEventListener("change", () => {
    $("address-field").hidden = form.elements.order_type.value !== "delivery";
  });
}

function details() {
  return {
    customer_name: $("customer_name").value,
    order_type: config.table ? "dine_in" : form.elements.order_type.value,
    table: config.table,
    delivery_address: config.table ? "" : $("delivery_address").value,
    phone: $("notify-sms").checked ? $("phone").value : "",
    email: $("notify-email").checked ? $("email").value : "",
    ready_at: when,
  };
}

// The fields an error may name, in the order of the page (the first one with an error takes the focus).
const FIELD_IDS = ["table", "order_type", "delivery_address", "ready_at", "customer_name", "phone", "email", "contact"];

function clearErrors() {
  for (const id of FIELD_IDS) {
    if ($(`${id}-error`)) $(`${id}-error`).textContent = "";
    $(id)?.removeAttribute("aria-invalid");
  }
  $("form-message").textContent = "";
  $("cart-message").textContent = "";
  for (const line of lines) line.error = null;
}

/** The input of a group to focus: the chosen one, else the first that can be chosen. */
const fieldsetInput = (fieldset) =>
  fieldset ? fieldset.querySelector("input:checked:not(:disabled)") || fieldset.querySelector("input:not(:disabled)") : null;

/** Each error next to what it names; the focus on the first field with one, else on the first line. */
function showErrors(errors, summary = "") {
  const places = errorPlaces(errors);
  let first = null;
  for (const id of FIELD_IDS) {
    const message = places.fields[id];
    if (!message) continue;
    if (!$(`${id}-error`)) {
      places.general.push(message);
      continue;
    }
    $(`${id}-error`).textContent = message;
    const field = $(id);
    if (field && ["INPUT", "TEXTAREA"].includes(field.tagName)) field.setAttribute("aria-invalid", "true");
    first ??= field && field.matches("input, textarea") ? field : fieldsetInput(field);
  }
  for (const [index, message] of Object.entries(places.lines)) if (lines[index]) lines[index].error = message;
  drawCart();
  $("cart-message").textContent = [summary, ...places.cart].filter(Boolean).join(" ");
  const fields = Object.keys(places.fields).length;
  $("form-message").textContent = [fields ? "Please check the fields marked above." : "", ...places.general].filter(Boolean).join(" ");
  const firstLine = Object.keys(places.lines).sort((a, b) => a - b)[0];
  const target = first || (firstLine !== undefined ? $(`line-${firstLine}-remove`) : null) || (places.cart.length ? $("cart-title") : null);
  (target || $("place")).focus();
}

function setSending(on) {
  sending = on;
  $("place").disabled = on;
  $("place").setAttribute("aria-busy", String(on));
  $("place-idle").hidden = on;
  $("place-busy").hidden = !on;
}

async function placeOrder(event) {
  event.preventDefault();
  if (sending) return; // a second tap while the first is on its way
  clearErrors();
  const current = details();
  const local = localErrors(lines, items, current, { texting: $("notify-sms").checked, emailing: $("notify-email").checked });
  if (Object.keys(local).length) {
    showErrors(local);
    return;
  }
  setSending(true);
  let outcome;
  try {
    const response = await fetch(config.orders_url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "Idempotency-Key": submission.key() },
      body: JSON.stringify(orderBody(lines, items, current)),
    });
    const body = await response.json().catch(() => null);
    outcome = readAnswer(response.status, body, response.headers.get("Retry-After"));
  } catch {
    outcome = readAnswer(0, null, null);
  }
  submission.settle(outcome);
  if (outcome.kind === "placed" || outcome.kind === "duplicate") {
    lines.length = 0; // coming back to this page shows no cart to order twice
    location.assign(config.track_url.replace("NUMBER", encodeURIComponent(outcome.number)));
    return; // the button stays disabled while the tracking page opens
  }
  setSending(false);
  if (outcome.kind === "refused") {
    if (touchesMenu(outcome.errors)) await refreshMenu();
    if (outcome.errors.ready_at) await offerAnotherTime(outcome);
    showErrors(outcome.errors, refusalSummary(outcome.code));
  } else {
    $("form-message").textContent = outcomeMessage(outcome);
    $("place").focus();
  }
}

/** After a refusal of the time (full, closed, too soon…): the slots read again and, when the server
 * said when instead, that slot chosen and said so next to the field. */
async function offerAnotherTime(outcome) {
  const also = outcome.suggested && zone ? [slotDate(outcome.suggested, zone)] : [];
  await refreshSlots({ also });
  if (!TIME_REFUSALS.includes(outcome.code)) return;
  const limits = bounds();
  const suggested = suggestedSlot(outcome, dayAnswers(), limits);
  if (suggested) {
    when = suggested;
    guestChose = true;
    shownDay = slotDate(suggested, zone);
    dayPicked = true;
    scrolledFor = null; // into sight
    drawWhen();
  }
  outcome.errors.ready_at = [...outcome.errors.ready_at, suggestionText(outcome.code, suggested, zone, limits.now)];
}

// --- the live menu -----------------------------------------------------------------------------

let reading = null;

/** Read GET /menu again (until it is the version the socket last named) and redraw what shows it. */
function refreshMenu() {
  reading ??= (async () => {
    try {
      for (let tries = 0; tries < 3; tries++) {
        const response = await fetch(config.menu_url, { cache: "no-cache", headers: { Accept: "application/json" } });
        if (!response.ok) return;
        menu = await response.json();
        items = menuItems(menu);
        menuVersion = etagVersion(response.headers.get("ETag")) ?? wantedVersion;
        keepingFocus(drawMenu);
        drawCart();
        if (open) drawSheet();
        if (menuVersion === wantedVersion) return;
      }
    } catch {
      // Not read: the socket's next word (a change, a reconnection) tries again.
    } finally {
      reading = null;
    }
  })();
  return reading;
}

function heard(message) {
  if (message.type !== "menu" || message.version === menuVersion) return;
  wantedVersion = message.version;
  refreshMenu();
  refreshSlots(); // a station's capacity, an item's load or the hours may have changed with it
}

// --- wiring ------------------------------------------------------------------------------------

sheet.addEventListener("close", () => {
  const opener = open && open.opener;
  open = null;
  if (opener && document.contains(opener)) opener.focus();
  else if (opener) $(opener.id)?.focus();
});
$("sheet-close").addEventListener("click", () => sheet.close());
$("sheet-form").addEventListener("submit", addToCart);
$("sheet-fewer").addEventListener("click", () => stepQuantity(-1));
$("sheet-more").addEventListener("click", () => stepQuantity(1));
$("sheet-quantity").addEventListener("input", updateSheet);
$("sheet-quantity").addEventListener("change", () => {
  $("sheet-quantity").value = String(clampQuantity($("sheet-quantity").value, rules.quantity));
  updateSheet();
});
form.addEventListener("submit", placeOrder);
// Back from the tracking page, a browser may show this page as it was left: the cart emptied, the
// button still waiting for the answer it had.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  setSending(false);
  clearErrors();
  drawCart();
  refreshSlots();
});
// Back to the page after a while: others have ordered meanwhile, and the clock moved on.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && today !== null) refreshSlots();
});
setInterval(() => {
  if (today !== null && zoneDate(now(), zone) !== today) refreshSlots({ everyDay: true }); // past midnight
  else drawWhen(); // the times too soon go, ASAP's moves on
}, 30_000);

drawMenu();
drawCart();
refreshSlots({ everyDay: true });
connectLive(config.socket, {
  onMessage: heard,
  onConnection: (up) =>
    showConnection($("conn"), up, up ? "Menu up to date" : "Reconnecting… the menu may be out of date"),
});
