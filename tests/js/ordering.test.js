// kitchen/static/kitchen/ordering.js (the guests' ordering page without the page) under node's own
// test runner (`node --test tests/js/`; pytest runs it from tests/test_page_scripts.py). The menu is
// tests/factories.py's TEST_MENU as GET /menu serves it, cut to what these tests need.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  Submission,
  cartTotal,
  choiceErrors,
  clampQuantity,
  errorPlaces,
  etagVersion,
  groupFull,
  groupRule,
  initialChoice,
  lineProblem,
  localErrors,
  menuItems,
  newKey,
  newLine,
  orderBody,
  pick,
  readAnswer,
  signedMoney,
  stillSold,
  touchesMenu,
  unitCents,
} from "../../kitchen/static/kitchen/ordering.js";

const option = (code, name, price_delta = 0, available = true) => ({ code, name, price_delta, available });
const MENU = {
  categories: [
    {
      code: "pizza",
      name: "Pizza",
      items: [
        {
          sku: "margherita",
          name: "Margherita Pizza",
          description: "Tomato, mozzarella, basil",
          price: 12.5,
          available: true,
          modifier_groups: [
            { code: "size", name: "Size", min: 1, max: 1, options: [option("medium", "Medium"), option("large", "Large", 3), option("small", "Small", -2)] },
            {
              code: "extras",
              name: "Extras",
              min: 0,
              max: 3,
              options: [
                option("extra_cheese", "Extra cheese", 1.5),
                option("mushrooms", "Mushrooms", 1.2),
                option("olives", "Olives", 1),
                option("basil", "Basil", 0.5),
                option("chili", "Fresh chili", 0.8, false),
              ],
            },
          ],
        },
      ],
    },
    {
      code: "drinks",
      name: "Drinks",
      items: [
        { sku: "cola", name: "Cola", description: "", price: 3, available: true, modifier_groups: [{ code: "ice", name: "Ice", min: 0, max: 1, options: [option("no_ice", "No ice")] }] },
        { sku: "tiramisu", name: "Tiramisu", description: "", price: 6.5, available: false, modifier_groups: [] },
      ],
    },
  ],
};

const copy = (value) => JSON.parse(JSON.stringify(value));
const items = menuItems(MENU);
const pizza = items.get("margherita");
const [size, extras] = pizza.modifier_groups;
const DETAILS = { customer_name: " Jane Doe ", order_type: "takeout", table: null, delivery_address: "", phone: "", email: "" };

test("a group's rule reads as the guest is asked", () => {
  assert.equal(groupRule(size), "Choose 1");
  assert.equal(groupRule(extras), "Optional, up to 3");
  assert.equal(groupRule({ min: 1, max: null }), "Choose at least 1");
  assert.equal(groupRule({ min: 1, max: 2 }), "Choose 1 to 2");
  assert.equal(groupRule({ min: 0, max: null }), "Optional");
});

test("a sheet starts on the first size that is not sold out, and a size swaps for another", () => {
  const menu = copy(MENU);
  menu.categories[0].items[0].modifier_groups[0].options[0].available = false;
  assert.deepEqual([...initialChoice(menuItems(menu).get("margherita"))], ["large"]);

  let chosen = initialChoice(pizza);
  assert.deepEqual([...chosen], ["medium"]);
  chosen = pick(size, chosen, "large", true);
  assert.deepEqual([...chosen], ["large"]);
  assert.deepEqual([...pick(size, chosen, "large", false)], ["large"]); // exactly one: never none
});

test("a group takes no more than its max, and a sold-out option never", () => {
  let chosen = new Set(["medium"]);
  for (const code of ["extra_cheese", "mushrooms", "olives"]) chosen = pick(extras, chosen, code, true);
  assert.equal(groupFull(extras, chosen), true);
  assert.deepEqual([...pick(extras, chosen, "basil", true)], [...chosen]); // the fourth is refused
  chosen = pick(extras, chosen, "olives", false);
  assert.equal(groupFull(extras, chosen), false);
  assert.ok(pick(extras, chosen, "basil", true).has("basil"));
  assert.ok(!pick(extras, chosen, "chili", true).has("chili"));

  const ice = items.get("cola").modifier_groups[0]; // at most one, none needed: ticks on and off
  assert.ok(pick(ice, new Set(), "no_ice", true).has("no_ice"));
  assert.equal(pick(ice, new Set(["no_ice"]), "no_ice", false).size, 0);
  assert.equal(groupFull(ice, new Set(["no_ice"])), false); // a group of one swaps instead
});

test("the price follows the options, a negative one too, in whole cents", () => {
  assert.equal(unitCents(pizza, new Set(["large", "extra_cheese", "mushrooms"])), 1820);
  assert.equal(unitCents(pizza, new Set(["small"])), 1050);
  assert.equal(signedMoney(-200), "−2.00");
  assert.equal(signedMoney(150), "+1.50");
});

test("an item cannot be added below a group's minimum", () => {
  assert.deepEqual(choiceErrors(pizza, new Set()), { size: "Choose one." });
  assert.deepEqual(choiceErrors(pizza, new Set(["medium"])), {});
});

test("a quantity stays within the rules", () => {
  const limits = { min: 1, max: 10 };
  assert.equal(clampQuantity("12", limits), 10);
  assert.equal(clampQuantity("0", limits), 1);
  assert.equal(clampQuantity("", limits), 1);
  assert.equal(clampQuantity(3, limits), 3);
});

test("the body carries menu items with the price the cart shows, the table's code and the contact", () => {
  const lines = [newLine(pizza, new Set(["large", "mushrooms", "extra_cheese"]), 2, " well done "), newLine(items.get("cola"), new Set(), 1, "")];
  const body = orderBody(lines, items, { ...DETAILS, table: { number: 7, key: "k3y" }, phone: " +1 555 555 0123 " });

  assert.deepEqual(body, {
    customer_name: "Jane Doe",
    order_type: "dine_in",
    table_number: 7,
    table_key: "k3y",
    items: [
      { sku: "margherita", quantity: 2, modifiers: ["large", "extra_cheese", "mushrooms"], price: 18.2, notes: "well done" },
      { sku: "cola", quantity: 1, modifiers: [], price: 3 },
    ],
    contact: { phone: "+1 555 555 0123" },
  });
  assert.equal(JSON.stringify(body.items[0].price), "18.2"); // read by the server as Decimal("18.2")
  assert.equal(cartTotal(lines, items), 3940);

  const delivery = orderBody(lines, items, { ...DETAILS, order_type: "delivery", delivery_address: " 1 Main Street ", email: "g@example.com" });
  assert.equal(delivery.order_type, "delivery");
  assert.equal(delivery.delivery_address, "1 Main Street");
  assert.deepEqual(delivery.contact, { email: "g@example.com" });
  assert.equal("table_number" in delivery, false);
  assert.equal("contact" in orderBody(lines, items, DETAILS), false);
});

test("a line the menu stopped selling blocks the order; a new price is shown and sent", () => {
  const line = newLine(pizza, new Set(["medium", "extra_cheese"]), 1, "");
  assert.equal(lineProblem(line, items), null);

  const soldOut = copy(MENU);
  soldOut.categories[0].items[0].available = false;
  assert.match(lineProblem(line, menuItems(soldOut)).message, /Margherita Pizza has just sold out/);
  assert.equal(lineProblem(line, menuItems(soldOut)).blocking, true);

  const optionOut = copy(MENU);
  optionOut.categories[0].items[0].modifier_groups[1].options[0].available = false;
  assert.match(lineProblem(line, menuItems(optionOut)).message, /Extra cheese has just sold out/);

  const gone = copy(MENU);
  gone.categories[0].items = [];
  assert.equal(lineProblem(line, menuItems(gone)).blocking, true);

  const dearer = copy(MENU);
  dearer.categories[0].items[0].price = 13.5;
  const problem = lineProblem(line, menuItems(dearer));
  assert.deepEqual(problem, { blocking: false, message: "The price changed: now 15.00 each (it was 14.00)." });
  assert.equal(orderBody([line], menuItems(dearer), DETAILS).items[0].price, 15);
  assert.deepEqual(Object.keys(localErrors([line], menuItems(soldOut), DETAILS, {})), ["items[0].sku"]);
  assert.deepEqual(localErrors([line], menuItems(dearer), DETAILS, {}), {});
});

test("a sheet left open over a menu change keeps only what is still sold", () => {
  const changed = copy(MENU);
  changed.categories[0].items[0].modifier_groups[1].options[1].available = false;
  assert.deepEqual([...stillSold(menuItems(changed).get("margherita"), new Set(["large", "mushrooms", "olives"]))], ["large", "olives"]);
});

test("what the guest must fill in is asked for before anything is sent", () => {
  const line = newLine(items.get("cola"), new Set(), 1, "");
  assert.deepEqual(Object.keys(localErrors([], items, DETAILS, {})), ["items"]);
  const errors = localErrors([line], items, { ...DETAILS, customer_name: "  ", order_type: "delivery" }, { texting: true, emailing: true });
  assert.deepEqual(Object.keys(errors).sort(), ["contact.email", "contact.phone", "customer_name", "delivery_address"]);
  // The phone's format is the server's to judge.
  assert.deepEqual(localErrors([line], items, { ...DETAILS, phone: "12" }, { texting: true }), {});
});

test("each server error goes next to what it names", () => {
  const places = errorPlaces({
    customer_name: ["may contain only letters, spaces, hyphens and apostrophes"],
    "contact.phone": ["must be a phone number in international format, e.g. +15555550123"],
    "contact.email": ["must be a valid email address, e.g. guest@example.com"],
    contact: ["must hold a phone, an email or both"],
    delivery_address: ["must be 10 to 500 characters"],
    "items[1].sku": ["Margherita Pizza is sold out"],
    "items[1].modifiers": ["Fresh chili is sold out"],
    items: ["must hold 1 to 20 items"],
    table_key: ["is not this table's current code: scan the QR code on the table again"],
    "Idempotency-Key": ["must be 8 to 64 characters"],
  });

  assert.deepEqual(places.fields, {
    customer_name: "May contain only letters, spaces, hyphens and apostrophes.",
    phone: "Must be a phone number in international format, e.g. +15555550123.",
    email: "Must be a valid email address, e.g. guest@example.com.",
    contact: "Must hold a phone, an email or both.",
    delivery_address: "Must be 10 to 500 characters.",
    table: "This table's code is out of date: scan the QR code on the table again, or ask a member of staff.",
  });
  assert.deepEqual(places.lines, { 1: "Margherita Pizza is sold out. Fresh chili is sold out." });
  assert.deepEqual(places.cart, ["Must hold 1 to 20 items."]);
  assert.deepEqual(places.general, ["Idempotency-Key: Must be 8 to 64 characters."]);
  assert.equal(touchesMenu({ "items[0].price": ["x"] }), true);
  assert.equal(touchesMenu({ customer_name: ["x"] }), false);
});

test("an answer is read as placed, a duplicate of a placed order, refused, or not answered", () => {
  assert.deepEqual(readAnswer(201, { order_number: "ORD_1" }, null), { kind: "placed", number: "ORD_1" });
  const duplicate = { code: "duplicate_request", order_number: "ORD_1", errors: { "Idempotency-Key": ["…"] } };
  assert.deepEqual(readAnswer(409, duplicate, null), { kind: "duplicate", number: "ORD_1" });
  const soldOut = { code: "sold_out", errors: { "items[0].sku": ["Cola is sold out"] } };
  assert.deepEqual(readAnswer(400, soldOut, null), { kind: "refused", code: "sold_out", errors: soldOut.errors });
  assert.deepEqual(readAnswer(415, { code: "unsupported_media_type", errors: { body: ["…"] } }, null).kind, "refused");
  assert.deepEqual(readAnswer(429, null, "7"), { kind: "busy", seconds: 7 });
  assert.deepEqual(readAnswer(503, null, "2"), { kind: "unavailable", seconds: 2 });
  assert.deepEqual(readAnswer(0, null, null), { kind: "unanswered" });
  assert.deepEqual(readAnswer(502, null, null), { kind: "unanswered" });
});

test("a retry of one submission sends its key again until the server answered for sure", () => {
  let made = 0;
  const submission = new Submission(() => `key-${++made}`);
  assert.equal(submission.key(), "key-1");
  for (const kind of ["unanswered", "busy", "unavailable"]) {
    submission.settle({ kind });
    assert.equal(submission.key(), "key-1", kind);
  }
  submission.settle({ kind: "refused" }); // nothing was written: what is sent next is another submission
  assert.equal(submission.key(), "key-2");
  submission.settle({ kind: "placed" });
  assert.equal(submission.key(), "key-3");
});

test("a key is a UUID where the page may make one, else 32 random hex digits; both as POST /orders takes them", () => {
  const format = /^[A-Za-z0-9_.:-]{8,64}$/;
  assert.match(newKey(globalThis.crypto), format);
  const insecure = { getRandomValues: (bytes) => globalThis.crypto.getRandomValues(bytes) };
  const key = newKey(insecure);
  assert.match(key, /^[0-9a-f]{32}$/);
  assert.match(key, format);
  assert.notEqual(newKey(insecure), key);
});

test("the menu's version is read from its ETag", () => {
  assert.equal(etagVersion('"menu-12"'), 12);
  assert.equal(etagVersion('W/"menu-3"'), 3);
  assert.equal(etagVersion(null), null);
});
