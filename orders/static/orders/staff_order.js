// The staff order entry's menu picker (orders/templates/admin/orders/order/staff_add.html): tap an
// item to add a line, choose its options and notes; the total is a guide (the server prices the
// order from the menu) and counts the "items not on the menu" rows too. The picked lines are posted
// as JSON in `menu_lines`. The menu, the lines picked before an error and the limits of a line's
// quantity and notes (orders/validation.py's) come from the server.

const data = (id) => JSON.parse(document.getElementById(id).textContent);
const menu = data("menu-data");
const rules = data("picker-rules");
const items = new Map();
for (const category of menu.categories) for (const item of category.items) items.set(item.sku, item);
const lines = []; // {item, quantity, modifiers: Set(code), notes}
const cents = (value) => Math.round(Number(value) * 100);
const money = (amount) => (amount / 100).toFixed(2);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value != null) node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

function unitCents(line) {
  let total = cents(line.item.price);
  for (const group of line.item.modifier_groups)
    for (const option of group.options) if (line.modifiers.has(option.code)) total += cents(option.price_delta);
  return total;
}

function renderMenu() {
  const box = document.getElementById("menu-categories");
  for (const category of menu.categories) {
    const buttons = category.items.map((item) =>
      el("button", {
        type: "button", class: "pick", "data-sku": item.sku, disabled: !item.available,
        title: item.available ? item.description : "sold out",
        onclick: () => addLine(item),
      }, `${item.name} ${money(cents(item.price))}` + (item.available ? "" : " (86)")));
    box.append(el("div", { class: "category" }, el("h3", {}, category.name), ...buttons));
  }
}

function addLine(item, quantity = 1, modifiers = [], notes = "") {
  const line = { item, quantity, modifiers: new Set(modifiers), notes };
  if (!modifiers.length) { // a group of exactly one starts on its first available option
    for (const group of item.modifier_groups) {
      const first = group.options.find((option) => option.available);
      if (group.min === 1 && group.max === 1 && first) line.modifiers.add(first.code);
    }
  }
  lines.push(line);
  renderLines();
}

function optionChoices(line, index, group) {
  const single = group.max === 1;
  return group.options.map((option) => {
    const input = el("input", {
      type: single ? "radio" : "checkbox", name: `line${index}-${group.code}`, value: option.code,
      checked: line.modifiers.has(option.code), disabled: !option.available,
      onchange: (event) => {
        if (single) for (const other of group.options) line.modifiers.delete(other.code);
        if (event.target.checked) line.modifiers.add(option.code);
        else line.modifiers.delete(option.code);
        update();
      },
    });
    const change = cents(option.price_delta);
    const delta = change ? ` ${change < 0 ? "−" : "+"}${money(Math.abs(change))}` : "";
    return el("label", {}, input, ` ${option.name}${delta}` + (option.available ? "" : " (86)"));
  });
}

function renderLines() {
  const box = document.getElementById("lines");
  box.replaceChildren();
  lines.forEach((line, index) => {
    const price = el("span", { class: "price" }, money(unitCents(line) * line.quantity));
    const quantity = el("input", {
      type: "number", min: rules.quantity.min, max: rules.quantity.max, value: line.quantity, "aria-label": "quantity", class: "quantity",
      oninput: (event) => { line.quantity = parseInt(event.target.value, 10) || 0; update(); },
    });
    const remove = el("button", { type: "button", onclick: () => { lines.splice(index, 1); renderLines(); } }, "Remove");
    const card = el("div", { class: "line", "data-sku": line.item.sku },
      el("div", { class: "head" }, el("span", {}, line.item.name), quantity, price, remove));
    for (const group of line.item.modifier_groups) {
      const rule = group.min === group.max ? `choose ${group.min}` : group.max == null ? "any" : `up to ${group.max}`;
      card.append(el("div", { class: "group" }, el("span", { class: "name" }, `${group.name} (${rule})`), ...optionChoices(line, index, group)));
    }
    card.append(el("div", { class: "group" }, el("label", {}, "Notes ", el("input", {
      type: "text", maxlength: rules.notes.max, size: 50, value: line.notes, "aria-label": "notes",
      oninput: (event) => { line.notes = event.target.value; update(); },
    }))));
    box.append(card);
  });
  update();
}

// The "items not on the menu" rows (MENU_MODE=open only): quantity × price of each filled-in row.
const freeItems = document.getElementById("free-items");
function freeRowsCents() {
  let total = 0;
  for (const row of freeItems ? freeItems.tBodies[0].rows : []) {
    const quantity = row.querySelector("input[name$='-quantity']");
    const price = row.querySelector("input[name$='-price']");
    if (quantity && price && quantity.value && price.value) total += cents(price.value) * (parseInt(quantity.value, 10) || 0);
  }
  return total;
}

function update() {
  let total = freeRowsCents();
  document.querySelectorAll("#lines .line").forEach((card, index) => {
    const line = lines[index];
    const lineCents = unitCents(line) * line.quantity;
    card.querySelector(".price").textContent = money(lineCents);
    total += lineCents;
  });
  document.getElementById("total").textContent = money(total);
  document.getElementById("menu_lines").value = JSON.stringify(lines.map((line) => ({
    sku: line.item.sku, quantity: line.quantity, modifiers: [...line.modifiers], notes: line.notes,
  })));
}

renderMenu();
for (const line of data("picked-data")) {
  const item = line && items.get(line.sku);
  if (item) addLine(item, Number(line.quantity) || 1, Array.isArray(line.modifiers) ? line.modifiers : [], line.notes || "");
}
if (freeItems) freeItems.addEventListener("input", update);
update();
