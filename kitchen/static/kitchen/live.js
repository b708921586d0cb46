// The live screens' one socket: every page that follows orders (the kitchen display and expo, the
// customer board, order tracking) opens its WebSocket through `connectLive` and nothing else.
//
// What it does for a page: connects to the page's socket path on the page's own host; after a close,
// reconnects after a capped exponential back-off with jitter (a restarted display process is not hit
// by every screen at the same instant); pings every 2 s and treats 5 s of silence as a lost connection
// even when no close event came; reports up/down for the page's connection light. The server sends a
// fresh snapshot on every connection, so a page needs nothing else to catch up after a drop.
//
// An open socket is not enough: updates reach it only while the display process's bridge relays them.
// While it does not, the server says `{"type": "bridge", "up": false}` (at once, and instead of each
// pong), and the light goes red with the socket still open; `{"type": "bridge", "up": true}` or a pong
// turns it green again, after the fresh snapshot the server sends once the bridge is back.
//
// Every update carries a `version` (an order_status_log id, one sequence for every order): a page
// drops an update whose version is not above what it has (`Versions`), so a stale or repeated one
// (two display processes relay the same update) changes nothing.

export const BACKOFF = { baseMs: 500, capMs: 10_000, jitter: 0.2 };
export const HEARTBEAT = { everyMs: 2_000, silenceMs: 5_000 };

/** The wait before reconnect attempt `attempt` (0, 1, 2, …): 0.5 s, 1 s, 2 s, … up to 10 s, each
 * shortened by up to 20 % at random, so it never exceeds the cap. */
export function backoffDelay(attempt, random = Math.random, { baseMs, capMs, jitter } = BACKOFF) {
  return Math.min(capMs, baseMs * 2 ** attempt) * (1 - jitter * random());
}

/** The socket URL of `path` on the page's own host (wss: under https:). */
export function socketUrl(path, location = globalThis.location) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

/** An order's number of the day, as the board calls it (ORD_20250101_042: 042). */
export function shortNumber(number) {
  const match = /_(\d+)$/.exec(number);
  return match ? match[1] : number;
}

/** The restaurant's time zone, which the page's view puts in it (`json_script` under `time-zone`): the
 * screens' clocks show its time, not the tablet's. Undefined (the browser's own) on a page without it. */
export function restaurantZone(document = globalThis.document) {
  const node = document.getElementById("time-zone");
  return node ? JSON.parse(node.textContent) : undefined;
}

const clockFormats = new Map(); // time zone -> its Intl.DateTimeFormat (the clock ticks every second)

/** `moment` (a Date, ms or ISO 8601 text) as the restaurant's clock shows it, hours and minutes in
 * `timeZone` (e.g. "America/New_York"; undefined: the browser's zone), in the browser's language. */
export function clockTime(moment, timeZone, locale = undefined) {
  const key = `${timeZone}|${locale}`;
  if (!clockFormats.has(key)) {
    clockFormats.set(key, new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", timeZone }));
  }
  return clockFormats.get(key).format(new Date(moment));
}

/** What the server put in the page with Django's `json_script` under `id`. */
export function pageData(id, document = globalThis.document) {
  return JSON.parse(document.getElementById(id).textContent);
}

/** The newest version seen per order, over a snapshot's version. An order's version is kept after it
 * leaves the page, so a late stale update cannot bring it back. */
export class Versions {
  constructor() {
    this.base = 0;
    this.seen = new Map();
  }

  /** Start again from a snapshot: its version, and each of its orders' own ([number, version] pairs). */
  reset(version, entries = []) {
    this.base = version;
    this.seen = new Map(entries);
  }

  /** True (and remembered) when `version` is above what the page has for `number`; false for a stale
   * or repeated update, which the page drops. */
  accept(number, version) {
    const have = this.seen.has(number) ? this.seen.get(number) : this.base;
    if (!(version > have)) return false;
    this.seen.set(number, version);
    return true;
  }
}

/** The connection light: class `up` while connected, and `text` when given. */
export function showConnection(element, up, text) {
  element.classList.toggle("up", up);
  if (text !== undefined) element.textContent = text;
}

/**
 * Open the page's socket at `path` and keep it open.
 *
 * onMessage(message): each parsed message but the heartbeat's pong.
 * onConnection(up): the connection came up, or was lost; or the display's bridge went down, or is back.
 * stopOn: close codes after which the page gives up (refused: 4403, no such order: 4404), with
 *   onStop(code) called instead of reconnecting.
 * The rest (WebSocket, timers, clock, random, location) are the browser's unless a test passes its own.
 *
 * Returns { send(message): sends when connected (else drops it), close(): stops for good }.
 */
export function connectLive(path, options) {
  const {
    onMessage,
    onConnection = () => {},
    stopOn = [],
    onStop = () => {},
    WebSocket = globalThis.WebSocket,
    setTimeout = globalThis.setTimeout,
    setInterval = globalThis.setInterval,
    clearInterval = globalThis.clearInterval,
    now = Date.now,
    random = Math.random,
    location = globalThis.location,
    heartbeat = HEARTBEAT,
    backoff = BACKOFF,
  } = options;
  let socket = null, attempt = 0, lastHeard = 0, stopped = false, bridgeUp = true;

  const isOpen = () => socket !== null && socket.readyState === WebSocket.OPEN;

  function connect() {
    const current = new WebSocket(socketUrl(path, location));
    socket = current;
    current.onopen = () => {
      attempt = 0;
      lastHeard = now();
      bridgeUp = true;
      onConnection(true);
    };
    current.onmessage = (event) => {
      if (socket !== current) return;
      lastHeard = now();
      const message = JSON.parse(event.data);
      if (message.type === "pong" || message.type === "bridge") {
        const up = message.type === "pong" || message.up === true;
        if (up !== bridgeUp) {
          bridgeUp = up;
          onConnection(up);
        }
        return;
      }
      onMessage(message);
    };
    current.onclose = (event) => lost(current, event.code);
  }

  // Once per socket: from its close event, or from the heartbeat (a dead link may take long to close).
  function lost(current, code) {
    if (socket !== current) return;
    socket = null;
    onConnection(false);
    if (stopped) return;
    if (stopOn.includes(code)) {
      stopped = true;
      clearInterval(pinger);
      onStop(code);
      return;
    }
    setTimeout(connect, backoffDelay(attempt++, random, backoff));
  }

  function send(message) {
    if (isOpen()) socket.send(JSON.stringify(message));
  }

  const pinger = setInterval(() => {
    if (!isOpen()) return;
    if (now() - lastHeard > heartbeat.silenceMs) {
      const silent = socket;
      silent.close();
      lost(silent, null);
      return;
    }
    send({ action: "ping" });
  }, heartbeat.everyMs);

  connect();
  return {
    send,
    close() {
      stopped = true;
      clearInterval(pinger);
      if (socket) socket.close();
    },
  };
}
