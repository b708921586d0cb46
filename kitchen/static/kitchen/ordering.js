// The guests' ordering page (/order/) without the page: prices in cents, what a modifier group lets
// the guest pick, the cart's lines checked against the menu, when the order can be ready (the
// kitchen's slots of GET /slots, on the restaurant's clock), the POST /orders body, where the
// server's errors go, what an answer means, and the request's Idempotency-Key. order.js draws the
// page with these; tests/js/ordering.test.js runs them under node. The server owns the rules (it
// prices the order from the menu and judges every field): what is checked here only saves the guest
// a round trip, or explains the server's answer.

/** An amount of the menu (a JSON number, 12.5) in cents, and back to text. */
export const cents = (value) => Math.round(Number(value) * 100);
export const money = (amount) => (amount / 100).toFixed(2);

/** An option's price change as its label shows it: +1.50, −2.00 (a minus sign, not a hyphen). */
export const signedMoney = (amount) => (amount < 0 ? "−" : "+") + money(Math.abs(amount));

/** The menu's items by sku. */
export function menuItems(menu) {
  const items = new Map();
  for (const category of menu.categories) for (const item of category.items) items.set(item.sku, item);
  return items;
}

/** A group whose one option is always chosen: shown as radio buttons. */
export const exactlyOne = (group) => group.min === 1 && group.max === 1;

/** How a group's rule reads beside its name. */
export function groupRule({ min, max }) {
  if (max !== null && min === max) return `Choose ${min}`;
  if (min > 0) return max === null ? `Choose at least ${min}` : `Choose ${min} to ${max}`;
  return max === null ? "Optional" : `Optional, up to ${max}`;
}

const picked = (group, chosen) => group.options.filter((option) => chosen.has(option.code)).length;

/** Whether the group holds as many options as it may: its other options cannot be ticked then. */
export const groupFull = (group, chosen) => group.max !== null && group.max > 1 && picked(group, chosen) >= group.max;

/** What a new sheet starts with: an exactly-one group on its first option that is not sold out. */
export function initialChoice(item) {
  const chosen = new Set();
  for (const group of item.modifier_groups) {
    const first = group.options.find((option) => option.available);
    if (exactlyOne(group) && first) chosen.add(first.code);
  }
  return chosen;
}

/** `chosen` after the guest ticks (`on`) or unticks option `code` of `group`: a group of at most one
 * swaps its option, a fuller one takes no more than its max, and a sold-out option is never taken. */
export function pick(group, chosen, code, on) {
  const next = new Set(chosen);
  const option = group.options.find((candidate) => candidate.code === code);
  if (!on) {
    if (!exactlyOne(group)) next.delete(code);
    return next;
  }
  if (!option || !option.available) return next;
  if (group.max === 1) for (const other of group.options) next.delete(other.code);
  else if (groupFull(group, chosen)) return next;
  next.add(code);
  return next;
}

/** Only the chosen options the menu (again) sells for `item`, so a sheet left open over a menu change
 * never offers what is sold out. */
export function stillSold(item, chosen) {
  const sold = new Set(item.modifier_groups.flatMap((group) => group.options.filter((o) => o.available).map((o) => o.code)));
  return new Set([...chosen].filter((code) => sold.has(code)));
}

/** What stops the item being added as chosen, by group code: too few or too many options. */
export function choiceErrors(item, chosen) {
  const errors = {};
  for (const group of item.modifier_groups) {
    const count = picked(group, chosen);
    if (count < group.min) errors[group.code] = group.min === 1 ? "Choose one." : `Choose at least ${group.min}.`;
    else if (group.max !== null && count > group.max) errors[group.code] = `Choose at most ${group.max}.`;
  }
  return errors;
}

const chosenOptions = (item, chosen) =>
  item.modifier_groups.flatMap((group) => group.options.filter((option) => chosen.has(option.code)));

/** The unit price of `item` with the `chosen` option codes, in cents. */
export function unitCents(item, chosen) {
  return chosenOptions(item, chosen).reduce((total, option) => total + cents(option.price_delta), cents(item.price));
}

/** The quantity typed or stepped to, kept within the order rules' limits. */
export function clampQuantity(value, { min, max }) {
  const number = Number.parseInt(value, 10);
  return Number.isNaN(number) ? min : Math.min(max, Math.max(min, number));
}

/** A line of the cart: what is sent (sku, option codes in menu order, quantity, notes), what it shows
 * (name, option names) and the unit price the guest saw when adding it. */
export function newLine(item, chosen, quantity, notes) {
  const options = chosenOptions(item, chosen);
  return {
    sku: item.sku,
    name: item.name,
    modifiers: options.map((option) => option.code),
    modifierNames: options.map((option) => option.name),
    quantity,
    notes: notes.trim(),
    shownCents: unitCents(item, chosen),
    error: null, // the server's word about this line, from the last refusal
  };
}

/** What the menu `items` (the page's current menu) says against a cart line: null when it sells it
 * at the price shown, else {blocking, message}. A sold-out or vanished dish blocks the order until it
 * is removed; a new price does not (the cart shows it, and the order is sent at it). */
export function lineProblem(line, items) {
  const item = items.get(line.sku);
  if (!item) return { blocking: true, message: "No longer on the menu: remove it to place your order." };
  if (!item.available) return { blocking: true, message: `${item.name} has just sold out: remove it to place your order.` };
  const options = new Map(item.modifier_groups.flatMap((group) => group.options.map((option) => [option.code, option])));
  for (const code of line.modifiers) {
    const option = options.get(code);
    if (!option) return { blocking: true, message: "Its choices changed on the menu: remove it and add it again." };
    if (!option.available) {
      return { blocking: true, message: `${option.name} has just sold out: remove this and add it again without it.` };
    }
  }
  const now = unitCents(item, new Set(line.modifiers));
  if (now !== line.shownCents) {
    return { blocking: false, message: `The price changed: now ${money(now)} each (it was ${money(line.shownCents)}).` };
  }
  return null;
}

/** A line's unit price now: the menu's while it sells the line as chosen, else the price shown. */
export function lineUnitCents(line, items) {
  const item = items.get(line.sku);
  const problem = lineProblem(line, items);
  return item && !(problem && problem.blocking) ? unitCents(item, new Set(line.modifiers)) : line.shownCents;
}

export const cartTotal = (lines, items) => lines.reduce((total, line) => total + lineUnitCents(line, items) * line.quantity, 0);

/** The body of POST /orders. `details`: customer_name, order_type, table ({number, key} from the
 * table's QR code, or null), delivery_address, the phone and email of the boxes ticked ("" else) and
 * `ready_at`: "asap" or the chosen slot's end as GET /slots gave it (absent: the server's ASAP).
 * Each line carries the unit price the cart shows, so a menu that changed unseen is refused
 * (price_mismatch) rather than charged. */
export function orderBody(lines, items, details) {
  const body = {
    customer_name: details.customer_name.trim(),
    order_type: details.table ? "dine_in" : details.order_type,
    items: lines.map((line) => ({
      sku: line.sku,
      quantity: line.quantity,
      modifiers: line.modifiers,
      price: lineUnitCents(line, items) / 100,
      ...(line.notes ? { notes: line.notes } : {}),
    })),
  };
  if (details.table) Object.assign(body, { table_number: details.table.number, table_key: details.table.key });
  if (body.order_type === "delivery") body.delivery_address = details.delivery_address.trim();
  const contact = {};
  if (details.phone.trim()) contact.phone = details.phone.trim();
  if (details.email.trim()) contact.email = details.email.trim();
  if (Object.keys(contact).length) body.contact = contact;
  if (details.ready_at) body.ready_at = details.ready_at;
  return body;
}

/** What the guest must fix before anything is sent, named as the server names its errors. */
export function localErrors(lines, items, details, { texting, emailing }) {
  const errors = {};
  if (!lines.length) errors.items = ["Add something from the menu first."];
  lines.forEach((line, index) => {
    const problem = lineProblem(line, items);
    if (problem && problem.blocking) errors[`items[${index}].sku`] = [problem.message];
  });
  if (!details.table && details.order_type === "delivery" && !details.delivery_address.trim()) {
    errors.delivery_address = ["Enter the address to deliver to."];
  }
  if (details.ready_at === null) errors.ready_at = ["Choose when you would like your order: as soon as possible, or a time."];
  if (!details.customer_name.trim()) errors.customer_name = ["Enter your name: we call it when your order is ready."];
  if (texting && !details.phone.trim()) errors["contact.phone"] = ["Enter your mobile number, or untick “Text me”."];
  if (emailing && !details.email.trim()) errors["contact.email"] = ["Enter your email address, or untick “Email me”."];
  return errors;
}

// The page's element for each field the server may name; `table` is the table's line of a QR order.
const FIELDS = {
  order_type: "order_type",
  delivery_address: "delivery_address",
  ready_at: "ready_at",
  customer_name: "customer_name",
  "contact.phone": "phone",
  "contact.email": "email",
  contact: "contact",
  table_number: "table",
  table_key: "table",
};
const TABLE_OUT_OF_DATE = "This table's code is out of date: scan the QR code on the table again, or ask a member of staff.";
const LINE_ERROR = /^items\[(\d+)\]/;

/** A message of the server ("must be a valid email address") as a sentence. */
export function sentence(text) {
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?…)]$/.test(capital) ? capital : `${capital}.`;
}

/** Where each error of an answer (`{"contact.phone": ["…"], "items[0].sku": ["…"]}`) is shown:
 * `fields` by the page's element id, `lines` by the cart line's index, `cart` above the cart's lines,
 * `general` above the button (what no field names). */
export function errorPlaces(errors) {
  const places = { fields: {}, lines: {}, cart: [], general: [] };
  for (const [path, messages] of Object.entries(errors)) {
    const text = messages.map(sentence).join(" ");
    const line = LINE_ERROR.exec(path);
    if (line) {
      const index = Number(line[1]);
      places.lines[index] = places.lines[index] ? `${places.lines[index]} ${text}` : text;
    } else if (path === "items") places.cart.push(text);
    else if (path === "table_key") places.fields.table = TABLE_OUT_OF_DATE;
    else if (FIELDS[path]) places.fields[FIELDS[path]] = text;
    else places.general.push(`${path}: ${text}`);
  }
  return places;
}

/** Whether a refusal is about the menu's dishes: the page then reads the menu again. */
export const touchesMenu = (errors) => Object.keys(errors).some((path) => LINE_ERROR.test(path));

/** What the cart says above its lines when the menu refused it. */
export function refusalSummary(code) {
  if (code === "sold_out") return "Something in your order has just sold out: see below.";
  if (code === "price_mismatch") return "Prices changed while you were choosing: check the new prices below, then place your order again.";
  return "";
}

/** The refusals of POST /orders that name another time to offer (a slot's end, or when it opens). */
export const TIME_REFUSALS = ["slot_full", "closed", "kitchen_paused"];

/** What an answer to POST /orders means for the page (`status` 0: no answer at all). */
export function readAnswer(status, body, retryAfter) {
  const seconds = Number.parseInt(retryAfter, 10) || null;
  if (status === 201 && body && body.order_number) return { kind: "placed", number: body.order_number };
  if (status === 409 && body && body.code === "duplicate_request" && body.order_number) {
    return { kind: "duplicate", number: body.order_number };
  }
  if ([400, 413, 415].includes(status) && body && body.errors) return { kind: "refused", code: body.code, errors: body.errors };
  if (status === 409 && body && body.errors && TIME_REFUSALS.includes(body.code)) {
    // No room then, closed then, or ASAP paused: the server says when instead (a slot's end; when it opens).
    return { kind: "refused", code: body.code, errors: body.errors, suggested: body.next_available || body.next_open || null };
  }
  if (status === 429) return { kind: "busy", seconds };
  if (status === 503) return { kind: "unavailable", seconds };
  return { kind: "unanswered" };
}

/** What the page says when the order was neither placed nor refused. */
export function outcomeMessage(outcome) {
  if (outcome.kind === "busy") {
    return `Too many orders from this network just now: try again in ${outcome.seconds || "a few"} seconds.`;
  }
  if (outcome.kind === "unavailable") return "We cannot take orders this very moment: try again in a few seconds.";
  return "No answer from the restaurant: check your connection and tap Place order again. It will not place your order twice.";
}

/** A new Idempotency-Key. crypto.randomUUID needs a secure context (https, or localhost): a
 * restaurant's plain-http address on its own network has only getRandomValues. */
export function newKey(crypto = globalThis.crypto) {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** One submission's Idempotency-Key: made at its first request, and sent again by a retry until the
 * server has answered for sure. Placed, or a duplicate: the page leaves. Refused: nothing was written,
 * so what the guest sends next, changed, is a new submission. No answer, too busy, unavailable: the
 * order may have been placed, so the retry says it is the same one (a 409 then names that order). */
export class Submission {
  constructor(makeKey = newKey) {
    this.makeKey = makeKey;
    this.current = null;
  }

  key() {
    this.current ??= this.makeKey();
    return this.current;
  }

  settle(outcome) {
    if (!["busy", "unavailable", "unanswered"].includes(outcome.kind)) this.current = null;
  }
}

/** The menu version an ETag names (`"menu-12"`: 12), or null. */
export function etagVersion(etag) {
  const match = /"menu-(\d+)"/.exec(etag || "");
  return match ? Number(match[1]) : null;
}

// --- when: the kitchen's slots ------------------------------------------------------------------
// GET /slots answers a day's open slots (start, end: the promised time of an order in it) with
// whether each has room for the cart (`fits`, asked with `items`) or at all (`full`). POST /orders
// takes a slot's end as `ready_at`, if it is at least the order's lead away and within the kitchen's
// days ahead; "asap" takes the first slot with room ending after the lead, within the ASAP horizon.
// `kitchen` is the page's config (kitchen/views.py: guest_kitchen). Times are ms since the epoch or
// ISO text; dates are the restaurant's, YYYY-MM-DD.

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
// A time as ms; the server may write microseconds (…:00.123456Z), which Date.parse does not read.
const at = (time) => (typeof time === "number" ? time : Date.parse(time.replace(/(\.\d{3})\d+/, "$1")));

/** Whether two times (ms, or ISO text however written) are the same instant. */
export const sameTime = (one, other) => at(one) === at(other);

/** GET /slots's `items` for the cart: `sku:quantity` a line (the server adds a sku's lines up). */
export const slotsCart = (lines) => lines.map((line) => `${line.sku}:${line.quantity}`).join(",");

/** How long the cart takes the kitchen, in ms, as POST /orders reckons an order's lead: the longest
 * prep time of its items' stations, or its order type's cooking time when none has one. */
export function cartLead(lines, items, kitchen, orderType) {
  const prep = lines.map((line) => items.get(line.sku)).map((item) => item && kitchen.leads.stations[item.station]);
  const seconds = prep.some(Boolean) ? Math.max(...prep.filter(Boolean)) : kitchen.leads.order_types[orderType] || 0;
  return seconds * 1000;
}

const formats = new Map();
function format(zone, options) {
  const key = `${zone} ${JSON.stringify(options)}`;
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat("en-GB", { timeZone: zone, ...options }));
  return formats.get(key);
}

/** A time on the restaurant's clock (the zone GET /slots names): 19:45. */
export const clockText = (time, zone) => format(zone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(at(time));

/** The restaurant's date at `time`: YYYY-MM-DD. */
export function zoneDate(time, zone) {
  const parts = Object.fromEntries(
    format(zone, { year: "numeric", month: "2-digit", day: "2-digit" })
      .formatToParts(at(time))
      .map((part) => [part.type, part.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** The date `days` after `date` (YYYY-MM-DD). */
export function addDays(date, days) {
  const day = new Date(`${date}T12:00:00Z`);
  day.setUTCDate(day.getUTCDate() + days);
  return day.toISOString().slice(0, 10);
}

/** A date as the day picker names it: Today, Tomorrow, Tue 8 Dec. */
export function dayName(date, today) {
  if (date === today) return "Today";
  if (date === addDays(today, 1)) return "Tomorrow";
  return format("UTC", { weekday: "short", day: "numeric", month: "short" }).format(Date.parse(`${date}T12:00:00Z`));
}

/** A promised time as a sentence ends it: "19:45" today, "19:45 tomorrow", "19:45 on Tue 8 Dec". */
export function whenText(time, zone, now) {
  const date = zoneDate(time, zone);
  const today = zoneDate(now, zone);
  const clock = clockText(time, zone);
  if (date === today) return clock;
  return date === addDays(today, 1) ? `${clock} tomorrow` : `${clock} on ${dayName(date, today)}`;
}

/** The days a guest may order for: the restaurant's today and `daysAhead` more. */
export const orderDays = (today, daysAhead) => Array.from({ length: daysAhead + 1 }, (_, index) => addDays(today, index));

/** What bounds the times an order may take at `now` (ms) with a lead of `lead` ms: none before
 * `earliest`, none after `latest` (the kitchen's days ahead), ASAP's slots start before `horizon`. */
export function slotBounds(now, lead, kitchen) {
  return {
    now,
    earliest: now + lead,
    latest: now + kitchen.days_ahead * DAY + kitchen.slot_minutes * MINUTE,
    horizon: now + kitchen.asap_horizon_minutes * MINUTE,
  };
}

/** Whether a slot of GET /slots has room: for the cart when asked with it (`fits`), else any at all. */
export const hasRoom = (slot) => ("fits" in slot ? slot.fits : !slot.full);

// A slot ending at midnight ends its own day: 24:00 in its day's list, not 00:00.
const endLabel = (end, answer) => (zoneDate(end, answer.time_zone) === answer.date ? clockText(end, answer.time_zone) : "24:00");

/** The times a day offers (GET /slots' answer for it): each slot the order may still take, named by
 * its end (the promised time) on the restaurant's clock, `full` when it has no room (shown, disabled). */
export function slotChoices(answer, bounds) {
  return answer.slots
    .filter((slot) => at(slot.end) >= bounds.earliest && at(slot.end) > bounds.now && at(slot.end) <= bounds.latest)
    .map((slot) => ({ start: slot.start, end: slot.end, label: endLabel(slot.end, answer), full: !hasRoom(slot) }));
}

/** "As soon as possible" over the days' answers (in date order, today's first), as POST /orders
 * would take it: {state: "open", end} the first slot with room that ends after the lead and starts
 * within the horizon; {state: "full", next} when those are all full (next: the first later one with
 * room, if known); {state: "closed", opens} when none is open (opens: the next open slot's start).
 * While the kitchen has paused new ASAP orders (GET /slots' `paused_until`), the slot must end after
 * the pause's end + the lead: {state: "paused", until, next} when none does within the horizon. */
export function asapChoice(answers, bounds) {
  const after = answers.flatMap((answer) => answer.slots).filter((slot) => at(slot.end) > bounds.earliest);
  if (!after.some((slot) => at(slot.start) < bounds.horizon)) return { state: "closed", opens: after.length ? after[0].start : null };
  const paused = answers.map((answer) => answer.paused_until).find((until) => until && at(until) > bounds.now);
  const earliest = paused ? at(paused) + bounds.earliest - bounds.now : bounds.earliest;
  const first = after.find((slot) => at(slot.end) > earliest && at(slot.start) < bounds.horizon && hasRoom(slot));
  if (first) return paused ? { state: "open", end: first.end, paused } : { state: "open", end: first.end };
  const next = after.find((slot) => at(slot.end) > earliest && at(slot.start) >= bounds.horizon && hasRoom(slot));
  return paused ? { state: "paused", until: paused, next: next ? next.end : null } : { state: "full", next: next ? next.end : null };
}

/** What the "as soon as possible" choice reads (`label`) and what is said under it (`hint`). */
export function asapText(asap, zone, now) {
  const busy = asap.paused || asap.until;
  const busyHint = busy ? `The kitchen is very busy: new orders are taken for after ${whenText(busy, zone, now)}.` : "";
  if (asap.state === "open") return { label: `As soon as possible, ready by ${whenText(asap.end, zone, now)}`, hint: busyHint };
  if (asap.state === "paused") {
    const next = asap.next ? ` The next time with room: ${whenText(asap.next, zone, now)}.` : "";
    return { label: "As soon as possible", hint: `${busyHint} Choose a later time.${next}` };
  }
  if (asap.state === "full") {
    const next = asap.next ? ` The next time with room: ${whenText(asap.next, zone, now)}.` : "";
    return { label: "As soon as possible", hint: `The kitchen is full for the next while: choose a later time.${next}` };
  }
  const opens = asap.opens ? `: we open at ${whenText(asap.opens, zone, now)}` : "";
  return { label: "As soon as possible", hint: `We are closed now${opens}. Choose a time to order ahead.` };
}

/** The restaurant's date of the slot ending at `end` (a slot ending at midnight is the day's last). */
export const slotDate = (end, zone) => zoneDate(at(end) - 1, zone);

/** Whether the guest's choice (`"asap"` or a slot's end) can still be had by what the page knows:
 * ASAP while it is open; a slot while its day offers it with room (a day not read: while in bounds). */
export function choiceStands(when, asap, answers, bounds) {
  if (when === "asap") return asap.state === "open";
  const day = answers.find((answer) => answer.date === slotDate(when, answer.time_zone));
  if (!day) return at(when) >= bounds.earliest && at(when) <= bounds.latest;
  return slotChoices(day, bounds).some((choice) => sameTime(choice.end, when) && !choice.full);
}

/** The slot to offer after a refusal of POST /orders (`outcome`): slot_full names the next slot
 * end with room (`suggested`); closed names when the restaurant opens, a slot's start: the first
 * slot with room from then. Its end as GET /slots wrote it, or null. */
export function suggestedSlot(outcome, answers, bounds) {
  if (!outcome.suggested) return null;
  const choices = answers.flatMap((answer) => slotChoices(answer, bounds)).filter((choice) => !choice.full);
  const found =
    outcome.code === "closed"
      ? choices.find((choice) => at(choice.start) >= at(outcome.suggested))
      : choices.find((choice) => sameTime(choice.end, outcome.suggested));
  return found ? found.end : null;
}

/** What is said next to the When field about the slot `suggested` instead (null: none was found). */
export function suggestionText(code, suggested, zone, now) {
  if (!suggested) return "No time with room was found in the coming days: please ask the restaurant.";
  const time = whenText(suggested, zone, now);
  return code === "closed"
    ? `The first time after we open, ${time}, is selected below: place your order again to take it.`
    : `The next time with room, ${time}, is selected below: place your order again to take it.`;
}
