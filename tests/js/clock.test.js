// The screens' clocks (kitchen/static/kitchen/live.js: clockTime, restaurantZone) under node's own test
// runner: a time is shown on the restaurant's clock, whatever the zone of the tablet showing it.

import assert from "node:assert/strict";
import { test } from "node:test";

import { clockTime, restaurantZone } from "../../kitchen/static/kitchen/live.js";

// 04:30 UTC on 8 March 2026: 23:30 the evening before in New York, 05:30 in Rome.
const MOMENT = "2026-03-08T04:30:00Z";

test("a moment is shown in the restaurant's zone, not the browser's", () => {
  assert.equal(clockTime(MOMENT, "America/New_York", "en-GB"), "23:30");
  assert.equal(clockTime(MOMENT, "Europe/Rome", "en-GB"), "05:30");
  assert.equal(clockTime(Date.parse(MOMENT), "UTC", "en-GB"), "04:30");
  assert.equal(clockTime(new Date(MOMENT), "America/New_York", "en-US"), "11:30 PM");
});

test("the zone follows the clock change: 08:00 UTC is 03:00 in New York before it, 04:00 after", () => {
  assert.equal(clockTime("2026-03-08T06:59:00Z", "America/New_York", "en-GB"), "01:59"); // EST, -5
  assert.equal(clockTime("2026-03-08T07:00:00Z", "America/New_York", "en-GB"), "03:00"); // EDT, -4
});

test("the page's zone is the one its view put in `time-zone`; none without it", () => {
  const page = (nodes) => ({ getElementById: (id) => nodes[id] || null });

  assert.equal(restaurantZone(page({ "time-zone": { textContent: '"America/New_York"' } })), "America/New_York");
  assert.equal(restaurantZone(page({})), undefined);
});
