// kitchen/static/kitchen/live.js under node's own test runner (`node --test tests/js/`; pytest runs
// it from tests/test_page_scripts.py). A fake socket class and a fake clock stand in for the browser's.

import assert from "node:assert/strict";
import { test } from "node:test";

import { BACKOFF, Versions, backoffDelay, connectLive, shortNumber, socketUrl } from "../../kitchen/static/kitchen/live.js";

class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 3;
  static opened = [];

  constructor(url) {
    this.url = url;
    this.readyState = FakeSocket.CONNECTING;
    this.sent = [];
    FakeSocket.opened.push(this);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.readyState = FakeSocket.CLOSED;
  }

  // What the server (or the network) does.
  accept() {
    this.readyState = FakeSocket.OPEN;
    this.onopen();
  }

  receive(message) {
    this.onmessage({ data: JSON.stringify(message) });
  }

  drop(code = 1006) {
    this.readyState = FakeSocket.CLOSED;
    this.onclose({ code });
  }
}

/** Timers run by hand: `advance(ms)` moves the clock and runs what fell due, in order. */
function fakeClock() {
  let time = 0, nextId = 1;
  const timers = new Map();
  const clock = {
    now: () => time,
    setTimeout: (fn, ms) => (timers.set(nextId, { fn, at: time + ms }), nextId++),
    setInterval: (fn, ms) => (timers.set(nextId, { fn, at: time + ms, every: ms }), nextId++),
    clearInterval: (id) => timers.delete(id),
    delays: () => [...timers.values()].filter((timer) => !timer.every).map((timer) => timer.at - time),
    advance(ms) {
      const end = time + ms;
      for (;;) {
        const due = [...timers].filter(([, timer]) => timer.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        const [id, timer] = due;
        time = timer.at;
        if (timer.every) timer.at += timer.every;
        else timers.delete(id);
        timer.fn();
      }
      time = end;
    },
  };
  return clock;
}

function open(path, overrides = {}) {
  FakeSocket.opened = [];
  const clock = fakeClock(), messages = [], connection = [], stops = [];
  const live = connectLive(path, {
    onMessage: (message) => messages.push(message),
    onConnection: (up) => connection.push(up),
    onStop: (code) => stops.push(code),
    WebSocket: FakeSocket,
    location: { protocol: "http:", host: "display.test:8500" },
    random: () => 0.5,
    ...clock,
    ...overrides,
  });
  return { live, clock, messages, connection, stops, sockets: FakeSocket.opened };
}

test("connects to the path on the page's host, passes messages on, sends only while open", () => {
  const { live, messages, connection, sockets } = open("/ws/board/?types=takeout");
  assert.equal(sockets[0].url, "ws://display.test:8500/ws/board/?types=takeout");
  live.send({ action: "start" }); // not open yet: dropped, not queued
  sockets[0].accept();
  sockets[0].receive({ type: "snapshot", version: 3 });
  live.send({ action: "start", order_number: "ORD_1" });
  assert.deepEqual(connection, [true]);
  assert.deepEqual(messages, [{ type: "snapshot", version: 3 }]);
  assert.deepEqual(sockets[0].sent, [{ action: "start", order_number: "ORD_1" }]);
  assert.equal(socketUrl("/ws/x/", { protocol: "https:", host: "example.org" }), "wss://example.org/ws/x/");
});

test("reconnects after a drop, with a growing back-off, and starts again from the new snapshot", () => {
  const { clock, messages, connection, sockets } = open("/ws/kitchen/");
  sockets[0].accept();
  sockets[0].drop();
  assert.deepEqual(connection, [true, false]);
  assert.equal(sockets.length, 1);
  const first = clock.delays()[0];
  clock.advance(first);
  assert.equal(sockets.length, 2); // retried
  sockets[1].drop(); // the display process is still down
  const second = clock.delays()[0];
  assert.ok(second > first, `${second} > ${first}`);
  clock.advance(second);
  sockets[2].accept();
  sockets[2].receive({ type: "snapshot", version: 9 });
  assert.deepEqual(connection, [true, false, false, true]);
  assert.deepEqual(messages, [{ type: "snapshot", version: 9 }]);
  // Connected again: the back-off starts over.
  sockets[2].drop();
  assert.equal(clock.delays()[0], first);
});

test("the back-off is capped, with jitter below the cap", () => {
  const delays = Array.from({ length: 12 }, (_, attempt) => backoffDelay(attempt, () => 0));
  assert.deepEqual(delays.slice(0, 5), [500, 1000, 2000, 4000, 8000]);
  assert.ok(delays.slice(5).every((delay) => delay === BACKOFF.capMs));
  const jittered = Array.from({ length: 50 }, (_, i) => backoffDelay(20, () => i / 50));
  assert.ok(jittered.every((delay) => delay <= BACKOFF.capMs && delay > BACKOFF.capMs * (1 - BACKOFF.jitter)));
  assert.ok(new Set(jittered).size > 40, "screens that lost the same server do not come back in step");
  assert.ok(backoffDelay(3, () => 0.99) < backoffDelay(3, () => 0));
});

test("pings every 2 s; 5 s of silence is a lost connection even without a close event", () => {
  const { clock, connection, sockets } = open("/ws/orders/ORD_1/");
  sockets[0].accept();
  clock.advance(2_000);
  assert.deepEqual(sockets[0].sent, [{ action: "ping" }]);
  sockets[0].receive({ type: "pong" });
  clock.advance(4_000); // heard at 2 s: at 6 s only 4 s of silence
  assert.deepEqual(connection, [true]);
  clock.advance(2_000); // 8 s: 6 s of silence
  assert.deepEqual(connection, [true, false]);
  assert.equal(sockets[0].readyState, FakeSocket.CLOSED);
  clock.advance(clock.delays()[0]);
  assert.equal(sockets.length, 2);
  sockets[0].onclose({ code: 1006 }); // the dead socket's close event, late: changes nothing
  assert.deepEqual(connection, [true, false]);
  assert.equal(clock.delays().length, 0);
});

test("pongs are the heartbeat's, not the page's", () => {
  const { messages, sockets } = open("/ws/board/");
  sockets[0].accept();
  sockets[0].receive({ type: "pong" });
  assert.deepEqual(messages, []);
});

test("the display's bridge down is a red light on an open socket, until it is back", () => {
  const { clock, messages, connection, sockets } = open("/ws/kitchen/");
  sockets[0].accept();
  sockets[0].receive({ type: "bridge", up: false }); // the server's watchdog: updates no longer arrive
  assert.deepEqual(connection, [true, false]);
  clock.advance(2_000);
  sockets[0].receive({ type: "bridge", up: false }); // the ping's answer while it is down: no pong
  clock.advance(4_000); // answered: not a silent socket, so it is kept (the snapshot comes on it)
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].readyState, FakeSocket.OPEN);
  assert.deepEqual(connection, [true, false]);
  sockets[0].receive({ type: "snapshot", version: 12 }); // the bridge is back: a fresh snapshot first
  sockets[0].receive({ type: "bridge", up: true });
  sockets[0].receive({ type: "pong" });
  assert.deepEqual(connection, [true, false, true]);
  assert.deepEqual(messages, [{ type: "snapshot", version: 12 }]);
  // A page that missed the "back" message is green again at its next pong; a new socket starts green.
  sockets[0].receive({ type: "bridge", up: false });
  sockets[0].receive({ type: "pong" });
  assert.deepEqual(connection, [true, false, true, false, true]);
  sockets[0].receive({ type: "bridge", up: false });
  sockets[0].drop();
  clock.advance(clock.delays()[0]);
  sockets[1].accept();
  assert.deepEqual(connection, [true, false, true, false, true, false, false, true]);
});

test("a close code the page stops on is not retried", () => {
  const { clock, connection, stops, sockets } = open("/ws/kitchen/", { stopOn: [4403] });
  sockets[0].accept();
  sockets[0].drop(4403);
  assert.deepEqual(stops, [4403]);
  assert.deepEqual(connection, [true, false]);
  clock.advance(60_000);
  assert.equal(sockets.length, 1);
});

test("close() stops for good", () => {
  const { live, clock, sockets } = open("/ws/board/");
  sockets[0].accept();
  live.close();
  sockets[0].drop(1000);
  clock.advance(60_000);
  assert.equal(sockets.length, 1);
});

test("a stale or repeated version is dropped; a newer one is taken", () => {
  const versions = new Versions();
  versions.reset(10, [["ORD_A", 7], ["ORD_B", 10]]);
  assert.equal(versions.accept("ORD_A", 7), false, "repeated (two display processes relay the same update)");
  assert.equal(versions.accept("ORD_A", 6), false, "stale");
  assert.equal(versions.accept("ORD_A", 8), true);
  assert.equal(versions.accept("ORD_A", 8), false);
  assert.equal(versions.accept("ORD_C", 10), false, "not in the snapshot: the snapshot's version is what the page has");
  assert.equal(versions.accept("ORD_C", 11), true);
  // An order that left the page (completed) keeps its version: a late stale update does not bring it back.
  assert.equal(versions.accept("ORD_B", 12), true);
  assert.equal(versions.accept("ORD_B", 11), false);
  versions.reset(20);
  assert.equal(versions.accept("ORD_B", 20), false);
  assert.equal(versions.accept("ORD_B", 21), true);
});

test("the board's short number", () => {
  assert.equal(shortNumber("ORD_20261206_007"), "007");
  assert.equal(shortNumber("odd"), "odd");
});
