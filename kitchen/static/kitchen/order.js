// The guests' ordering page (/order/): kitchen/templates/kitchen/order.html. The menu by category,
// an item's sheet (its option groups, quantity and note), the cart and the guest's details; the order
// goes to POST /orders on this same origin and the page then opens the order's tracking page. The menu
// stays live: the socket (/ws/menu/, through live.js) says when it changed and the page reads GET /menu
// again. What the page decides is in ordering.js; this file draws it. Text goes in with textContent.

import { connectLive, pageData, showConnection } from "./live.js";
import {
  Submission,
  cartTotal,
  cents,
  choiceErrors,
  clampQuantity,
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
  outcomeMessage,
  pick,
  readAnswer,
  refusalSummary,
  signedMoney,
  stillSold,
  touchesMenu,
  unitCents,
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
  };
}

// The fields an error may name, in the order of the page (the first one with an error takes the focus).
const FIELD_IDS = ["table", "order_type", "delivery_address", "customer_name", "phone", "email", "contact"];

function clearErrors() {
  for (const id of FIELD_IDS) {
    if ($(`${id}-error`)) $(`${id}-error`).textContent = "";
    $(id)?.removeAttribute("aria-invalid");
  }
  $("form-message").textContent = "";
  $("cart-message").textContent = "";
  for (const line of lines) line.error = null;
}

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
    first ??= field && field.matches("input, textarea") ? field : $(id)?.querySelector("input") || null;
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
    showErrors(outcome.errors, refusalSummary(outcome.code));
  } else {
    $("form-message").textContent = outcomeMessage(outcome);
    $("place").focus();
  }
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
});

drawMenu();
drawCart();
connectLive(config.socket, {
  onMessage: heard,
  onConnection: (up) =>
    showConnection($("conn"), up, up ? "Menu up to date" : "Reconnecting… the menu may be out of date"),
});
