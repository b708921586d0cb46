// kitchen/static/kitchen/pause.js under node's own test runner (`node --test tests/js/`; pytest runs
// it from tests/test_page_scripts.py): the banner's text and how long it stays, by the server's clock.

import assert from "node:assert/strict";
import { test } from "node:test";

import { pauseLeftMs, pauseText } from "../../kitchen/static/kitchen/pause.js";

const PAUSE = { paused_until: "2026-12-06T19:30:00+00:00", until_local: "20:30", paused_by: "boss", now: "2026-12-06T19:15:00+00:00" };

test("a pause's banner names its end in the restaurant's time and who paused", () => {
  assert.equal(pauseText(PAUSE), "New ASAP orders paused until 20:30 (boss)");
  assert.equal(pauseText({ ...PAUSE, paused_by: "" }), "New ASAP orders paused until 20:30");
});

test("no pause, no banner", () => {
  assert.equal(pauseText(null), "");
  assert.equal(pauseText({ ...PAUSE, paused_until: null }), "");
  assert.equal(pauseLeftMs({ ...PAUSE, paused_until: null }), 0);
});

test("the banner lasts until the pause's end by the server's clock, not the screen's", () => {
  assert.equal(pauseLeftMs(PAUSE), 15 * 60 * 1000);
  assert.equal(pauseLeftMs({ ...PAUSE, now: "2026-12-06T19:31:00+00:00" }), 0); // over when it came
});
