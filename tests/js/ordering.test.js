// kitchen/static/kitchen/ordering.js (the guests' ordering page without the page) under node's own
// test runner (`node --test tests/js/`; pytest runs it from tests/test_page_scripts.py). The menu is
// tests/factories.py's TEST_MENU as GET /menu serves it, cut to what these tests need.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  Submission,
  addDays,
  asapChoice,
  asapText,
  cartLead,
  cartTotal,
  choiceStands,
  clockText,
  dayName,
  orderDays,
  slotBounds,
  slotChoices,
  slotDate,
  slotsCart,
  suggestedSlot,
  suggestionText,
  whenText,
  zoneDate,
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
          station: "oven",
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
        { sku: "cola", name: "Cola", description: "", price: 3, station: "bar", available: true, modifier_groups: [{ code: "ice", name: "Ice", min: 0, max: 1, options: [option("no_ice", "No ice")] }] },
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

// --- when: the kitchen's slots ------------------------------------------------------------------
// A kitchen in Rome (UTC+1 in December) with 15-minute slots; GET /slots' answers built by hand.

const ROME = "Europe/Rome";
const KITCHEN = {
  days_ahead: 2,
  asap_horizon_minutes: 120,
  slot_minutes: 15,
  leads: { stations: { oven: 540 }, order_types: { dine_in: 8, takeout: 10, delivery: 12 } },
};
const utc = (text) => Date.parse(text);
const iso = (time) => new Date(time).toISOString().replace(".000Z", "Z");
/** A day's answer: a slot per start (UTC text), each `{fits}` as given (a cart was asked), or `{full}`. */
function answer(date, starts, room = {}) {
  const slots = starts.map((start) => {
    const slot = { start, end: iso(utc(start) + 15 * 60_000), full: false, stations: {} };
    return { ...slot, ...(room[start] || {}) };
  });
  return { date, time_zone: ROME, slot_minutes: 15, slots };
}
/** The 15-minute slots from `from` (UTC text) for `count` slots. */
const run = (from, count) => Array.from({ length: count }, (_, index) => iso(utc(from) + index * 15 * 60_000));

test("times and days read on the restaurant's clock, whatever the phone's zone", () => {
  assert.equal(clockText("2026-12-07T18:45:00Z", ROME), "19:45");
  assert.equal(clockText("2026-12-07T23:30:00Z", ROME), "00:30");
  assert.equal(zoneDate("2026-12-07T23:30:00Z", ROME), "2026-12-08"); // past midnight in Rome, not in UTC
  assert.equal(slotDate("2026-12-07T23:00:00Z", ROME), "2026-12-07"); // a slot ending at midnight is the day's last
  assert.equal(clockText("2026-07-07T18:45:00Z", ROME), "20:45"); // summer time
  assert.equal(addDays("2026-12-31", 1), "2027-01-01");
  assert.deepEqual(orderDays("2026-12-07", 2), ["2026-12-07", "2026-12-08", "2026-12-09"]);
  assert.equal(dayName("2026-12-07", "2026-12-07"), "Today");
  assert.equal(dayName("2026-12-08", "2026-12-07"), "Tomorrow");
  assert.equal(dayName("2026-12-09", "2026-12-07"), "Wed 9 Dec");
  const now = utc("2026-12-07T16:00:00Z");
  assert.equal(whenText("2026-12-07T18:45:00Z", ROME, now), "19:45");
  assert.equal(whenText("2026-12-08T18:45:00Z", ROME, now), "19:45 tomorrow");
  assert.equal(whenText("2026-12-09T10:45:00Z", ROME, now), "11:45 on Wed 9 Dec");
});

test("the cart's lead is its slowest station's, else its order type's; GET /slots is asked with each line", () => {
  const lines = [newLine(pizza, new Set(["medium"]), 2, ""), newLine(items.get("cola"), new Set(), 1, "")];
  assert.equal(cartLead(lines, items, KITCHEN, "takeout"), 540_000); // the oven's; the bar has none
  assert.equal(cartLead(lines.slice(1), items, KITCHEN, "delivery"), 12_000);
  assert.equal(cartLead([], items, KITCHEN, "takeout"), 10_000);
  assert.equal(slotsCart(lines), "margherita:2,cola:1");
});

test("a day offers the slots the order can still take, by their end; a full one is shown disabled", () => {
  const starts = run("2026-12-07T17:00:00Z", 6); // 18:00 to 19:30 in Rome
  const day = answer("2026-12-07", starts, {
    [starts[3]]: { full: true, fits: false }, // no room for this cart
    [starts[4]]: { full: true, fits: true }, // another station full, this cart's has room
  });
  const bounds = slotBounds(utc("2026-12-07T17:05:00Z"), 9 * 60_000, KITCHEN); // earliest 18:14 Rome
  assert.deepEqual(
    slotChoices(day, bounds).map((choice) => [choice.label, choice.full]),
    [["18:15", false], ["18:30", false], ["18:45", false], ["19:00", true], ["19:15", false], ["19:30", false]],
  );
  const later = slotBounds(utc("2026-12-07T17:22:00Z"), 9 * 60_000, KITCHEN); // 18:31 at the earliest
  assert.deepEqual(slotChoices(day, later).map((choice) => choice.label), ["18:45", "19:00", "19:15", "19:30"]);
  // Asked without a cart, a slot's own `full` says whether it has room.
  const noCart = answer("2026-12-07", starts, { [starts[0]]: { full: true } });
  assert.deepEqual(slotChoices(noCart, bounds)[0], { start: starts[0], end: "2026-12-07T17:15:00Z", label: "18:15", full: true });
  const lastOfDay = answer("2026-12-07", ["2026-12-07T22:45:00Z"]); // 23:45 to midnight in Rome
  assert.deepEqual(slotChoices(lastOfDay, bounds).map((choice) => choice.label), ["24:00"]);
  // No further than the kitchen's days ahead (and one slot).
  const far = slotBounds(utc("2026-12-05T17:05:00Z"), 0, KITCHEN);
  assert.deepEqual(slotChoices(day, far).map((choice) => choice.label), ["18:15"]);
});

test("as soon as possible is the first slot with room after the lead, within the horizon", () => {
  const now = utc("2026-12-07T17:05:00Z");
  const bounds = slotBounds(now, 9 * 60_000, KITCHEN);
  const starts = run("2026-12-07T17:00:00Z", 12);
  const open = asapChoice([answer("2026-12-07", starts, { [starts[0]]: { fits: true }, [starts[1]]: { fits: false } })], bounds);
  // 18:00–18:15 ends after the lead's 18:14: taken, as the server takes it.
  assert.deepEqual(open, { state: "open", end: "2026-12-07T17:15:00Z" });
  assert.deepEqual(asapText(open, ROME, now), { label: "As soon as possible, ready by 18:15", hint: "" });

  // Full until the slot starting 20:00, the last to start within the horizon (20:05).
  const busy = Object.fromEntries(starts.slice(0, 9).map((start) => [start, { fits: false }]));
  const full = asapChoice([answer("2026-12-07", starts, busy)], bounds);
  assert.deepEqual(full, { state: "full", next: "2026-12-07T19:30:00Z" });
  assert.match(asapText(full, ROME, now).hint, /full for the next while.*The next time with room: 20:30/);
});

test("while new ASAP orders are paused, as soon as possible ends after the pause's end + the lead", () => {
  const now = utc("2026-12-07T17:05:00Z"); // 18:05 in Rome
  const bounds = slotBounds(now, 9 * 60_000, KITCHEN);
  const starts = run("2026-12-07T17:00:00Z", 12);
  const paused = { ...answer("2026-12-07", starts), paused_until: "2026-12-07T17:30:00Z" }; // until 18:30
  const asap = asapChoice([paused], bounds);
  // 18:30 + the 9 minutes' lead: the slot ending 18:45, not 18:15.
  assert.deepEqual(asap, { state: "open", end: "2026-12-07T17:45:00Z", paused: "2026-12-07T17:30:00Z" });
  assert.deepEqual(asapText(asap, ROME, now), {
    label: "As soon as possible, ready by 18:45",
    hint: "The kitchen is very busy: new orders are taken for after 18:30.",
  });
  // Paused past the horizon: as soon as possible cannot be had (the server answers kitchen_paused).
  const long = { ...answer("2026-12-07", starts), paused_until: "2026-12-07T21:00:00Z" };
  const refused = asapChoice([long], bounds);
  assert.deepEqual(refused, { state: "paused", until: "2026-12-07T21:00:00Z", next: null });
  assert.match(asapText(refused, ROME, now).hint, /very busy: new orders are taken for after 22:00\. Choose a later time\./);
  // A pause already over changes nothing.
  const over = { ...answer("2026-12-07", starts), paused_until: "2026-12-07T17:00:00Z" };
  assert.deepEqual(asapChoice([over], bounds), { state: "open", end: "2026-12-07T17:15:00Z" });
  // Its 409 names the time to offer, as slot_full's does.
  const body = { code: "kitchen_paused", errors: { ready_at: ["paused"] }, paused_until: "2026-12-07T21:00:00Z", next_available: "2026-12-07T21:15:00Z" };
  assert.deepEqual(readAnswer(409, body, null), { kind: "refused", code: "kitchen_paused", errors: body.errors, suggested: "2026-12-07T21:15:00Z" });
});

test("closed now, as soon as possible says when the restaurant opens and cannot be chosen", () => {
  const now = utc("2026-12-07T22:00:00Z"); // 23:00 in Rome, closed at 22:30
  const bounds = slotBounds(now, 9 * 60_000, KITCHEN);
  const days = [answer("2026-12-07", run("2026-12-07T10:30:00Z", 44)), answer("2026-12-08", run("2026-12-08T10:30:00Z", 44))];
  const asap = asapChoice(days, bounds);
  assert.deepEqual(asap, { state: "closed", opens: "2026-12-08T10:30:00Z" });
  assert.deepEqual(asapText(asap, ROME, now), {
    label: "As soon as possible",
    hint: "We are closed now: we open at 11:30 tomorrow. Choose a time to order ahead.",
  });
  assert.deepEqual(slotChoices(days[0], bounds), []); // today offers nothing more
  assert.equal(choiceStands("asap", asap, days, bounds), false);
  assert.equal(choiceStands("2026-12-08T10:45:00Z", asap, days, bounds), true);
  assert.equal(asapChoice([answer("2026-12-07", [])], bounds).opens, null); // nothing known: no time said
});

test("a choice stands while it is offered with room", () => {
  const now = utc("2026-12-07T17:05:00Z");
  const bounds = slotBounds(now, 9 * 60_000, KITCHEN);
  const starts = run("2026-12-07T17:00:00Z", 4);
  const days = [answer("2026-12-07", starts, { [starts[2]]: { fits: false } })];
  const asap = asapChoice(days, bounds);
  assert.equal(choiceStands("asap", asap, days, bounds), true);
  assert.equal(choiceStands("2026-12-07T17:30:00Z", asap, days, bounds), true);
  assert.equal(choiceStands("2026-12-07T17:45:00Z", asap, days, bounds), false); // full for this cart now
  assert.equal(choiceStands("2026-12-07T17:52:00Z", asap, days, bounds), false); // not a slot of that day
  assert.equal(choiceStands("2026-12-08T17:45:00Z", asap, days, bounds), true); // a day not read yet
  assert.equal(choiceStands("2026-12-12T17:45:00Z", asap, days, bounds), false); // beyond the days ahead
});

test("the time is sent as chosen: asap, or the slot's end as GET /slots gave it; none chosen is asked for", () => {
  const lines = [newLine(items.get("cola"), new Set(), 1, "")];
  assert.equal(orderBody(lines, items, { ...DETAILS, ready_at: "asap" }).ready_at, "asap");
  assert.equal(orderBody(lines, items, { ...DETAILS, ready_at: "2026-12-07T18:45:00Z" }).ready_at, "2026-12-07T18:45:00Z");
  assert.equal("ready_at" in orderBody(lines, items, DETAILS), false);
  assert.deepEqual(Object.keys(localErrors(lines, items, { ...DETAILS, ready_at: null }, {})), ["ready_at"]);
  assert.deepEqual(localErrors(lines, items, { ...DETAILS, ready_at: "asap" }, {}), {});
});

test("a full or closed answer names the time to offer instead, next to the When field", () => {
  const now = utc("2026-12-07T17:05:00Z");
  const bounds = slotBounds(now, 9 * 60_000, KITCHEN);
  const full = { code: "slot_full", errors: { ready_at: ["that slot is full"] }, next_available: "2026-12-07T18:00:00.000000Z" };
  const outcome = readAnswer(409, full, null);
  assert.deepEqual(outcome, { kind: "refused", code: "slot_full", errors: full.errors, suggested: full.next_available });
  const starts = run("2026-12-07T17:00:00Z", 8);
  // The guest chose 18:45 (full); the server says 19:00, written with microseconds.
  const days = [answer("2026-12-07", starts, { [starts[2]]: { fits: false }, [starts[4]]: { fits: false } })];
  assert.equal(suggestedSlot(outcome, days, bounds), "2026-12-07T18:00:00Z"); // as GET /slots wrote it
  assert.equal(errorPlaces(outcome.errors).fields.ready_at, "That slot is full.");
  assert.equal(
    suggestionText("slot_full", "2026-12-07T18:00:00Z", ROME, now),
    "The next time with room, 19:00, is selected below: place your order again to take it.",
  );

  // Closed then: the first slot with room from the opening (a slot's start) is offered.
  const closed = readAnswer(409, { code: "closed", errors: { ready_at: ["the restaurant is closed then"] }, next_open: starts[4] }, null);
  assert.equal(closed.suggested, starts[4]); // opens 19:00, whose slot has no room: 19:30 is offered
  assert.equal(suggestedSlot(closed, days, bounds), "2026-12-07T18:30:00Z");
  assert.match(suggestionText("closed", "2026-12-08T10:45:00Z", ROME, now), /^The first time after we open, 11:45 tomorrow, is selected/);
  assert.equal(suggestedSlot({ ...closed, suggested: null }, days, bounds), null);
  assert.match(suggestionText("slot_full", null, ROME, now), /No time with room/);
  // A 400 on the time (too soon, too far) is a refusal whose error stands next to the field too.
  const soon = readAnswer(400, { code: "validation_failed", errors: { ready_at: ["is too soon"] } }, null);
  assert.equal(soon.kind, "refused");
  assert.equal(errorPlaces(soon.errors).fields.ready_at, "Is too soon.");
});
