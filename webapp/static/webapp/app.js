// The chat page: sign-in, the inbox and one conversation, kept live by live.js. It uses the
// public API only (README, "Endpoints"), the way any other client would.

import { ApiError, api, logIn, logOut, restoreSession, signUp, whenSignedOut } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { Inbox } from "./inbox.js";
import { Live } from "./live.js";
import { Conversation } from "./conversation.js";

const root = document.getElementById("root");

class App {
  constructor() {
    this.me = null;
    this.inbox = null;
    this.conversation = null;
    this.live = null;
    this.blocked = new Map();
  }

  async start() {
    whenSignedOut(() => this.signedOut("Your session has ended. Please log in again."));
    let restored = false;
    try {
      restored = await restoreSession();
    } catch {
      this.showSignIn("The server cannot be reached. Reload the page to try again.");
      return;
    }
    if (!restored) {
      this.showSignIn();
      return;
    }
    try {
      await this.enter();
    } catch (error) {
      this.showSignIn(error.message);
    }
  }

  // `problem`: why the user is here (an error, said at once); `notice`: news that is not one.
  showSignIn(problem = "", notice = "") {
    document.title = "Chat";
    const error = h("p", { class: "error", role: "alert" }, problem);
    const news = h("p", { class: "notice", role: "status" }, notice);
    const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true, maxlength: 150 });
    const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
    const form = h(
      "form",
      { class: "sign-in", "aria-labelledby": "sign-in-title" },
      h("h1", { id: "sign-in-title" }, "Chat"),
      news,
      h("p", {}, "Log in, or pick a username and password to sign up."),
      h("label", { for: "username" }, "Username"),
      username,
      h("label", { for: "password" }, "Password"),
      password,
      error,
      h(
        "div",
        { class: "buttons" },
        h("button", { type: "submit", name: "login" }, "Log in"),
        h("button", { type: "submit", name: "signup", class: "secondary" }, "Sign up"),
      ),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const signingUp = event.submitter?.name === "signup";
      error.textContent = "";
      for (const button of form.querySelectorAll("button")) button.disabled = true;
      try {
        if (signingUp) await signUp(username.value, password.value);
        else await logIn(username.value, password.value);
        await this.enter();
      } catch (failure) {
        error.textContent = failure.message;
        for (const button of form.querySelectorAll("button")) button.disabled = false;
        username.focus();
      }
    });
    replaceChildren(root, h("main", { class: "centered" }, form));
    username.focus();
  }

  async enter() {
    const [me, sync, blocks] = await Promise.all([
      api("GET", "/api/user/me/"),
      api("GET", "/api/sync/"),
      api("GET", "/api/user/blocks/?limit=100"),
    ]);
    this.me = me;
    this.blocked = new Map(blocks.results.map((block) => [block.user.id, block.user]));
    // Loaded before the page is replaced: if this fails, the sign-in form says why.
    const inbox = new Inbox(this);
    await inbox.load();
    const status = h("p", { class: "connection", role: "status" }, "Connecting…");
    const logOutButton = h("button", { type: "button", class: "secondary" }, "Log out");
    logOutButton.addEventListener("click", () => this.logOut());
    const layout = h("main", { class: "layout", dataset: { view: "inbox" } });
    replaceChildren(
      root,
      h(
        "header",
        { class: "topbar" },
        h("h1", {}, "Chat"),
        status,
        h("span", { class: "who" }, "Signed in as ", h("strong", {}, me.username)),
        logOutButton,
      ),
      layout,
    );
    this.layout = layout;
    this.status = status;
    this.inbox = inbox;
    this.conversation = new Conversation(this);
    layout.append(this.inbox.element, this.conversation.element);
    this.live = new Live({
      onEvent: (event) => this.apply(event),
      onStatus: (state) => this.showStatus(state),
      onResync: () => this.resync(),
      onSignedOut: () => this.signedOut("Your session has ended. Please log in again."),
    });
    this.live.start(sync.cursor);
    const wanted = Number(new URLSearchParams(location.hash.slice(1)).get("thread"));
    if (wanted) await this.open(wanted);
  }

  showStatus(state) {
    const texts = {
      connecting: "Connecting…",
      online: "Connected",
      offline: "Offline: reconnecting…",
      reconnecting: "Reconnecting…",
    };
    this.status.textContent = texts[state];
    this.status.dataset.state = state;
    this.layout.classList.toggle("is-offline", state !== "online");
  }

  // Everything the page shows is reloaded: the change log no longer reaches back to where
  // this page stood (a 410), so the current state is read again and its cursor kept.
  async resync() {
    const sync = await api("GET", "/api/sync/");
    await this.inbox.load();
    if (this.conversation.threadId) await this.conversation.reload();
    return sync.cursor;
  }

  apply(event) {
    this.inbox.apply(event);
    this.conversation.apply(event);
  }

  // Called from clicks: a failure is told, never left as an uncaught rejection.
  async open(threadId) {
    let thread;
    try {
      thread = await this.inbox.ensure(threadId);
    } catch (error) {
      this.inbox.tell(error.message);
      return;
    }
    if (!thread) {
      history.replaceState(null, "", location.pathname);
      return;
    }
    history.replaceState(null, "", `#thread=${threadId}`);
    this.layout.dataset.view = "thread";
    this.inbox.select(threadId);
    await this.conversation.open(thread);
  }

  closeConversation() {
    const left = this.conversation.threadId;
    history.replaceState(null, "", location.pathname);
    this.layout.dataset.view = "inbox";
    this.inbox.select(null);
    this.conversation.close();
    this.inbox.focusThread(left);
  }

  otherOf(thread) {
    return thread.participants_detail.find((person) => person.id !== this.me.id) ?? this.me;
  }

  async setBlocked(person, blocked) {
    if (blocked) {
      await api("POST", "/api/user/blocks/", { json: { user: person.id } });
      this.blocked.set(person.id, person);
    } else {
      await api("DELETE", `/api/user/blocks/${person.id}/`).catch((error) => {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      });
      this.blocked.delete(person.id);
    }
  }

  sendTyping(threadId) {
    this.live?.sendTyping(threadId);
  }

  async logOut() {
    this.leave();
    await logOut();
    history.replaceState(null, "", location.pathname);
    this.showSignIn("", "You have logged out.");
  }

  signedOut(problem) {
    this.leave();
    this.showSignIn(problem);
  }

  // Nothing of the signed-in page goes on working behind the sign-in form.
  leave() {
    this.live?.stop();
    this.live = null;
    this.conversation?.dispose();
    this.conversation = null;
  }
}

new App().start();
