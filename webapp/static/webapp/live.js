// Live events: one WebSocket, and the change log to fill any gap (README, "Catching up").
// Every change carries its cursor; the newest applied is kept, so a change that arrives twice
// (replayed by the socket after a REST catch-up, say) is applied once.

import { ApiError, accessToken, api, query, refreshAccess, sessionEnded } from "./api.js";

const FIRST_PAUSE_MS = 1000;
const LONGEST_PAUSE_MS = 60000;
const SYNC_PAGE = 500;
// A socket counts as working once it has stayed open this long: one the server closes at
// once (1012 while it cannot reach Redis, say) keeps the back-off growing.
const STEADY_MS = 10000;

// Close codes the server documents: 4401 the token (refresh it), 4410 the cursor is older
// than the log keeps and 4400 it is not a cursor (load everything again).
const TOKEN_REFUSED = 4401;
const RESYNC_CODES = new Set([4400, 4410]);

export class Live {
  constructor({ onEvent, onStatus, onResync, onSignedOut }) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onResync = onResync;
    this.onSignedOut = onSignedOut;
    this.cursor = null;
    this.socket = null;
    this.failures = 0;
    this.resyncing = false;
    this.timer = null;
    this.stopped = true;
    this.online = () => this.reconnectNow();
    this.offline = () => this.dropSocket();
    this.visible = () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    };
  }

  start(cursor) {
    this.cursor = cursor;
    this.stopped = false;
    window.addEventListener("online", this.online);
    window.addEventListener("offline", this.offline);
    document.addEventListener("visibilitychange", this.visible);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener("online", this.online);
    window.removeEventListener("offline", this.offline);
    document.removeEventListener("visibilitychange", this.visible);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }

  apply(event) {
    if (typeof event.cursor === "number") {
      if (event.cursor <= this.cursor) return;
      this.cursor = event.cursor;
    }
    this.onEvent(event);
  }

  sendTyping(threadId) {
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ type: "typing", thread: threadId }));
    }
  }

  connect() {
    if (this.stopped || this.socket) return;
    this.onStatus(this.failures ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}/ws/?since=${this.cursor}`;
    const socket = new WebSocket(url, ["bearer", accessToken()]);
    this.socket = socket;
    let openedAt = null;
    socket.addEventListener("open", () => {
      openedAt = Date.now();
      this.onStatus("online");
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event.type !== "error") this.apply(event);
    });
    socket.addEventListener("close", (closed) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (openedAt !== null && Date.now() - openedAt >= STEADY_MS) this.failures = 0;
      if (!this.stopped) this.recover(closed.code);
    });
  }

  // The browser says the network is gone: the socket cannot be trusted any more.
  dropSocket() {
    const socket = this.socket;
    if (!socket || this.stopped) return;
    this.socket = null;
    socket.close(1000);
    this.onStatus("offline");
    this.schedule();
  }

  reconnectNow() {
    if (this.stopped || this.socket) return;
    clearTimeout(this.timer);
    this.failures = 0;
    this.catchUpAndConnect();
  }

  async recover(code) {
    this.onStatus("offline");
    if (code === TOKEN_REFUSED) {
      try {
        await refreshAccess();
      } catch (error) {
        if (sessionEnded(error)) {
          this.stop();
          this.onSignedOut();
          return;
        }
      }
    } else if (RESYNC_CODES.has(code)) {
      this.resyncing = true;
    }
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    const pause = Math.min(LONGEST_PAUSE_MS, FIRST_PAUSE_MS * 2 ** this.failures);
    this.failures += 1;
    // Randomness so that many clients cut off together do not come back together.
    this.timer = setTimeout(() => this.catchUpAndConnect(), pause * (0.5 + Math.random() / 2));
  }

  // What changed while away comes from the change log over REST first (the page is up to
  // date as soon as the server answers), then the socket replays anything after that.
  async catchUpAndConnect() {
    if (this.stopped || this.socket) return;
    try {
      // Loading everything again can fail like any request: until it has worked, each
      // attempt starts with it, as the cursor kept is of no use.
      if (this.resyncing) {
        this.cursor = await this.onResync();
        this.resyncing = false;
      }
      await this.catchUp();
    } catch (error) {
      if (sessionEnded(error)) {
        this.stop();
        this.onSignedOut();
        return;
      }
      if (error instanceof ApiError && error.status === 410) this.resyncing = true;
      this.onStatus("offline");
      this.schedule();
      return;
    }
    this.connect();
  }

  async catchUp() {
    for (;;) {
      const page = await api("GET", query("/api/sync/", { since: this.cursor, limit: SYNC_PAGE }));
      for (const change of page.changes) this.apply(change);
      if (!page.has_more) return;
    }
  }
}
