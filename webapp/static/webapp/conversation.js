// One conversation: its messages newest at the bottom, older ones loaded while scrolling up,
// opened where I left off; sending (with files) that survives a bad network; edits, deletes,
// reactions, read receipts, typing, search and blocking.

import { ApiError, NetworkError, api, query } from "./api.js";
import { formatSize, formatTime, h, replaceChildren } from "./dom.js";

const PAGE = 50;
const EMOJIS = ["👍", "❤️", "😂", "😮", "😢", "🎉"];
const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 5000;
const MARK_READ_PAUSE_MS = 300;
const NEAR_EDGE_PX = 150;
const SEND_ATTEMPTS = 4;

function isRetryable(error) {
  return error instanceof NetworkError || (error instanceof ApiError && (error.status >= 500 || error.status === 429));
}

// A picture shows at most this many CSS pixels wide or high, its proportions kept.
const THUMBNAIL_BOX = 192;

function thumbnailSize(file) {
  if (!file.width || !file.height) return { width: THUMBNAIL_BOX, height: THUMBNAIL_BOX };
  const scale = Math.min(1, THUMBNAIL_BOX / Math.max(file.width, file.height));
  return { width: Math.round(file.width * scale), height: Math.round(file.height * scale) };
}

function pause(milliseconds) {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

export class Conversation {
  constructor(app) {
    this.app = app;
    this.threadId = null;
    this.thread = null;
    this.messages = new Map();
    this.elements = new Map();
    this.order = [];
    this.pending = new Map();
    this.reactionEvents = new Map();
    // One list per page of messages on its way, of the changes to this thread that arrived
    // meanwhile (see fetchPage).
    this.arriving = new Set();
    this.files = [];
    // The messages being edited (several may be at once): not drawn again until done.
    this.editing = new Set();
    this.readUpTo = 0;
    this.lastTypingSent = 0;
    // The server's limit on a message's length, handed over by the page (app.html).
    this.maxLength = Number(document.getElementById("root").dataset.messageMaxLength) || Infinity;
    this.build();
    this.observer = new IntersectionObserver((entries) => this.seen(entries), {
      root: this.scroller,
      threshold: 0.6,
    });
    this.visible = () => this.markRead();
    document.addEventListener("visibilitychange", this.visible);
  }

  build() {
    this.title = h("h2", { id: "conversation-title" });
    this.typing = h("p", { class: "typing", "aria-live": "polite" });
    this.blockButton = h("button", { type: "button", class: "secondary" });
    this.blockButton.addEventListener("click", () => this.toggleBlock());
    this.searchInput = h("input", { id: "search-conversation", type: "search", autocomplete: "off" });
    const searchForm = h(
      "form",
      { role: "search", class: "find" },
      h("label", { for: "search-conversation" }, "Search this conversation"),
      this.searchInput,
      h("button", { type: "submit", class: "secondary" }, "Search"),
    );
    searchForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.search();
    });
    this.results = h("ul", { "aria-label": "Search results" });
    const closeSearch = h("button", { type: "button", class: "secondary" }, "Close search");
    closeSearch.addEventListener("click", () => {
      this.searchPanel.hidden = true;
      this.searchInput.focus();
    });
    this.searchPanel = h("section", { class: "search-results", "aria-label": "Search results", hidden: true }, this.results, closeSearch);
    const back = h("button", { type: "button", class: "back secondary", "aria-label": "Back to conversations" }, "← Conversations");
    back.addEventListener("click", () => this.app.closeConversation());

    this.olderButton = h("button", { type: "button", class: "secondary load", hidden: true }, "Load older messages");
    this.olderButton.addEventListener("click", () => this.loadOlder());
    this.newerButton = h("button", { type: "button", class: "secondary load", hidden: true }, "Load newer messages");
    this.newerButton.addEventListener("click", () => this.loadNewer());
    this.log = h("ol", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
    this.scroller = h("div", { class: "scroller", tabindex: "0" }, this.olderButton, this.log, this.newerButton);
    this.scroller.addEventListener("scroll", () => this.scrolled());

    this.input = h("textarea", { id: "message-input", rows: "2", autocomplete: "off" });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    this.input.addEventListener("input", () => this.typed());
    this.fileInput = h("input", { id: "attach-files", type: "file", multiple: true, class: "visually-hidden" });
    this.fileInput.addEventListener("change", () => {
      this.upload([...this.fileInput.files]);
      this.fileInput.value = "";
    });
    this.fileList = h("ul", { class: "files", "aria-label": "Files to send" });
    this.sendButton = h("button", { type: "submit" }, "Send");
    this.alert = h("p", { class: "error", role: "alert" });
    const composer = h(
      "form",
      { class: "composer" },
      this.fileList,
      h(
        "div",
        { class: "compose-row" },
        h("label", { for: "message-input", class: "visually-hidden" }, "Message"),
        this.input,
        this.fileInput,
        h("label", { for: "attach-files", class: "attach button secondary" }, "Attach files"),
        this.sendButton,
      ),
      this.alert,
    );
    composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });

    this.body = h(
      "div",
      { class: "conversation-body", hidden: true },
      h("header", { class: "conversation-head" }, back, this.title, this.blockButton, this.typing),
      searchForm,
      this.searchPanel,
      this.scroller,
      composer,
    );
    this.placeholder = h("p", { class: "hint placeholder" }, "Pick a conversation, or find someone to talk to.");
    this.element = h(
      "section",
      { class: "conversation", "aria-labelledby": "conversation-title" },
      this.placeholder,
      this.body,
    );
    for (const name of ["dragenter", "dragover"]) {
      this.element.addEventListener(name, (event) => {
        if (!this.threadId || !event.dataTransfer?.types.includes("Files")) return;
        event.preventDefault();
        this.element.classList.add("dropping");
      });
    }
    this.element.addEventListener("dragleave", (event) => {
      if (!this.element.contains(event.relatedTarget)) this.element.classList.remove("dropping");
    });
    this.element.addEventListener("drop", (event) => {
      this.element.classList.remove("dropping");
      if (!this.threadId || !event.dataTransfer?.files.length) return;
      event.preventDefault();
      this.upload([...event.dataTransfer.files]);
    });
  }

  // The page is signed out: stop watching, reading and sending.
  dispose() {
    this.disposed = true;
    this.observer.disconnect();
    document.removeEventListener("visibilitychange", this.visible);
    clearTimeout(this.markTimer);
    clearTimeout(this.typingTimer);
    this.pending.clear();
  }

  get other() {
    return this.app.otherOf(this.thread);
  }

  async open(thread) {
    const switching = this.threadId !== thread.id;
    if (switching) {
      // What was seen of the previous conversation is marked read there, and nothing of it
      // is left on screen (or in the read marker) while the next one loads.
      this.flushRead();
      this.reset();
      this.hasMoreBefore = this.hasMoreAfter = false;
      this.showLoadButtons();
    }
    this.threadId = thread.id;
    this.thread = thread;
    this.placeholder.hidden = true;
    this.body.hidden = false;
    this.title.textContent = this.other.username;
    this.log.setAttribute("aria-label", `Conversation with ${this.other.username}`);
    this.showBlocked();
    if (switching) {
      this.files = [];
      this.renderFiles();
      this.input.value = "";
      this.alert.textContent = "";
      this.typing.textContent = "";
      this.searchPanel.hidden = true;
      this.searchInput.value = "";
    }
    this.input.focus();
    try {
      await this.loadAround("first_unread");
    } catch (error) {
      this.alert.textContent = error.message;
    }
  }

  async reload() {
    if (this.threadId) await this.loadAround("first_unread");
  }

  close() {
    this.flushRead();
    this.threadId = null;
    this.thread = null;
    this.reset();
    this.body.hidden = true;
    this.placeholder.hidden = false;
  }

  reset() {
    this.observer.disconnect();
    this.messages.clear();
    this.elements.clear();
    this.order = [];
    this.readUpTo = 0;
    this.editing.clear();
    replaceChildren(this.log);
  }

  // A page of this thread's messages. The server may have read it before changes whose
  // events arrive while it travels (a message sent meanwhile, an edit): those are applied
  // again once the page is shown, or the page would hide them.
  async fetchPage(threadId, parameters) {
    const arrived = [];
    this.arriving.add(arrived);
    try {
      const page = await api("GET", query(`/api/threads/${threadId}/messages/`, { ...parameters, limit: PAGE }));
      return { page, arrived };
    } finally {
      this.arriving.delete(arrived);
    }
  }

  replay(arrived) {
    for (const event of arrived) this.apply(event);
  }

  // A page around a message ("first_unread": where I left off), replacing what is shown.
  async loadAround(around) {
    const threadId = this.threadId;
    const { page, arrived } = await this.fetchPage(threadId, { around });
    if (threadId !== this.threadId) return;
    this.reset();
    this.hasMoreBefore = page.has_more_before;
    this.hasMoreAfter = page.has_more_after;
    for (const message of page.results) this.show(message);
    this.replay(arrived);
    this.showPending();
    this.showLoadButtons();
    const firstUnread = this.order
      .map((id) => this.messages.get(id))
      .find((message) => message.sender !== this.app.me.id && !message.is_read && !message.deleted);
    if (around === "first_unread" && firstUnread) {
      const element = this.elements.get(firstUnread.id);
      this.log.insertBefore(h("li", { class: "divider", role: "separator", "aria-label": "New messages" }, "New messages"), element);
      element.scrollIntoView({ block: "start" });
      this.scroller.scrollTop -= 40;
    } else if (around === "first_unread") {
      this.scrollToEnd();
    } else {
      const element = this.elements.get(Number(around));
      element?.classList.add("found");
      element?.scrollIntoView({ block: "center" });
      element?.focus();
    }
  }

  // The newest page, replacing what is shown (a plain page, newest first: `next` says
  // whether there are older ones).
  async loadLatest() {
    const threadId = this.threadId;
    const { page, arrived } = await this.fetchPage(threadId, {});
    if (threadId !== this.threadId) return;
    this.reset();
    this.hasMoreBefore = Boolean(page.next);
    this.hasMoreAfter = false;
    for (const message of page.results) this.show(message);
    this.replay(arrived);
    this.showPending();
    this.showLoadButtons();
  }

  async loadOlder() {
    if (this.loadingOlder || !this.hasMoreBefore || !this.order.length) return;
    this.loadingOlder = true;
    const threadId = this.threadId;
    try {
      const { page, arrived } = await this.fetchPage(threadId, { before: this.order[0] });
      if (threadId !== this.threadId) return;
      const height = this.scroller.scrollHeight;
      for (const message of page.results) this.show(message);
      // What was on screen stays where it was.
      this.scroller.scrollTop += this.scroller.scrollHeight - height;
      this.replay(arrived);
      this.hasMoreBefore = page.has_more_before;
      this.showLoadButtons();
    } catch (error) {
      this.alert.textContent = error.message;
    } finally {
      this.loadingOlder = false;
    }
  }

  async loadNewer() {
    if (this.loadingNewer || !this.hasMoreAfter || !this.order.length) return;
    this.loadingNewer = true;
    const threadId = this.threadId;
    try {
      const { page, arrived } = await this.fetchPage(threadId, { after: this.order.at(-1) });
      if (threadId !== this.threadId) return;
      for (const message of page.results) this.show(message);
      this.hasMoreAfter = page.has_more_after;
      // A message sent while this page travelled was left out while newer ones were missing.
      this.replay(arrived);
      this.showLoadButtons();
    } catch (error) {
      this.alert.textContent = error.message;
    } finally {
      this.loadingNewer = false;
    }
  }

  showLoadButtons() {
    this.olderButton.hidden = !this.hasMoreBefore;
    this.newerButton.hidden = !this.hasMoreAfter;
  }

  scrolled() {
    if (this.scroller.scrollTop < NEAR_EDGE_PX) this.loadOlder();
    if (this.nearEnd()) this.loadNewer();
  }

  nearEnd() {
    const { scrollTop, scrollHeight, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight < NEAR_EDGE_PX;
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  // Live changes, for the open conversation.
  apply(event) {
    if (event.thread !== this.threadId) return;
    if (event.type !== "typing") for (const arrived of this.arriving) arrived.push(event);
    switch (event.type) {
      case "message.created": {
        if (this.hasMoreAfter || !event.data) return;
        const follow = this.nearEnd() || event.data.sender === this.app.me.id;
        if (event.data.sender !== this.app.me.id) this.typing.textContent = "";
        this.show(event.data);
        if (follow) this.scrollToEnd();
        return;
      }
      case "message.updated":
      case "message.deleted":
        if (!this.messages.has(event.message)) return;
        if (event.data) this.show(event.data);
        else this.forget(event.message);
        return;
      case "reaction.added":
      case "reaction.removed": {
        const message = this.messages.get(event.message);
        this.reactionEvents.set(event.message, (this.reactionEvents.get(event.message) ?? 0) + 1);
        if (message) this.show({ ...message, reactions: event.reactions });
        return;
      }
      case "thread.read":
        if (event.reader === this.app.me.id) return;
        for (const message of this.messages.values()) {
          if (message.sender === this.app.me.id && message.id <= event.up_to && !message.is_read) {
            this.show({ ...message, is_read: true });
          }
        }
        return;
      case "thread.deleted":
        this.app.closeConversation();
        this.app.inbox.tell("That conversation was deleted.");
        return;
      case "typing":
        if (event.user === this.app.me.id) return;
        this.typing.textContent = `${this.other.username} is typing…`;
        clearTimeout(this.typingTimer);
        this.typingTimer = setTimeout(() => {
          this.typing.textContent = "";
        }, TYPING_SHOWN_MS);
        return;
      default:
    }
  }

  show(message) {
    this.messages.set(message.id, message);
    if (this.editing.has(message.id)) return;
    const element = this.renderMessage(message);
    const old = this.elements.get(message.id);
    this.elements.set(message.id, element);
    if (old) {
      // Drawn again, the message keeps what its reader was in the middle of (reactions on
      // offer, a delete to confirm, the highlight of the search hit jumped to, the keyboard):
      // the other person's reaction or a receipt must not undo it under the pointer.
      this.observer.unobserve(old);
      const focused = old.contains(document.activeElement) ? document.activeElement : null;
      const choosing = old.querySelector(".palette")?.hidden === false;
      const confirming = old.querySelector(".actions")?.dataset.confirming === "true";
      element.classList.toggle("found", old.classList.contains("found"));
      old.replaceWith(element);
      if (choosing) this.openPalette(element);
      const actions = element.querySelector(".actions"); // none once deleted
      if (confirming && actions) this.confirmDelete(message, actions, { focus: false });
      if (focused) this.refocus(element, focused);
    } else {
      this.place(message.id, element);
    }
    if (message.sender !== this.app.me.id && !message.is_read && !message.deleted) this.observer.observe(element);
  }

  // Offers the message's reactions, as its React button does (see show()).
  openPalette(element) {
    const palette = element.querySelector(".palette");
    if (!palette) return; // deleted meanwhile: nothing to react to
    palette.hidden = false;
    element.querySelector('[data-focus="react"]').setAttribute("aria-expanded", "true");
  }

  // A message drawn again (a reaction, an edit, a receipt, mine or live) keeps the keyboard
  // where it was: on the same control if it is still there, else on the message, rather
  // than losing focus to the top of the page. Each control's key is its own: 👍 on offer is
  // not the 👍 given beside the message (where Enter takes one's own back).
  refocus(element, focused) {
    const key = focused.dataset.focus;
    const same = [...element.querySelectorAll("[data-focus]")].find(
      (control) => control.dataset.focus === key && !control.closest("[hidden]"),
    );
    (key && same ? same : element).focus();
  }

  forget(messageId) {
    const element = this.elements.get(messageId);
    if (element) {
      this.observer.unobserve(element);
      element.remove();
    }
    this.elements.delete(messageId);
    this.messages.delete(messageId);
    this.order = this.order.filter((id) => id !== messageId);
  }

  // Messages in id order; messages still being sent after them all.
  place(messageId, element) {
    let index = this.order.findIndex((id) => id > messageId);
    if (index === -1) index = this.order.length;
    this.order.splice(index, 0, messageId);
    let anchor = index + 1 < this.order.length ? this.elements.get(this.order[index + 1]) : this.log.querySelector(".pending");
    if (anchor?.previousElementSibling?.classList.contains("divider")) anchor = anchor.previousElementSibling;
    this.log.insertBefore(element, anchor ?? null);
  }

  renderMessage(message) {
    const mine = message.sender === this.app.me.id;
    const author = mine ? "You" : message.sender_detail.username;
    const item = h("li", { class: `message ${mine ? "mine" : "theirs"}`, tabindex: "-1", dataset: { id: message.id } });
    const bubble = h(
      "div",
      { class: "bubble" },
      h(
        "p",
        { class: "meta" },
        h("span", { class: "author" }, author),
        " ",
        h("time", { datetime: message.created }, formatTime(message.created)),
        message.edited && !message.deleted ? h("span", { class: "edited" }, " · edited") : null,
      ),
      message.deleted
        ? h("p", { class: "text deleted" }, "Message deleted")
        : message.text
          ? h("p", { class: "text" }, message.text)
          : null,
      message.deleted ? null : this.renderAttachments(message.attachments),
    );
    item.append(bubble);
    if (message.deleted) return item;
    const actions = h("div", { class: "actions" });
    const react = h("button", { type: "button", class: "small", "aria-expanded": "false", dataset: { focus: "react" } }, "React");
    const palette = h(
      "div",
      { class: "palette", hidden: true },
      EMOJIS.map((emoji) =>
        h(
          "button",
          { type: "button", class: "small", "aria-label": `React with ${emoji}`, dataset: { focus: `react with ${emoji}` }, onclick: () => {
            palette.hidden = true;
            react.setAttribute("aria-expanded", "false");
            react.focus();
            this.react(message, emoji, true);
          } },
          emoji,
        ),
      ),
    );
    react.addEventListener("click", () => {
      palette.hidden = !palette.hidden;
      react.setAttribute("aria-expanded", String(!palette.hidden));
      if (!palette.hidden) palette.querySelector("button").focus();
    });
    actions.append(react);
    if (mine) {
      const edit = h("button", { type: "button", class: "small", dataset: { focus: "edit" } }, "Edit");
      edit.addEventListener("click", () => this.edit(message, item));
      const remove = h("button", { type: "button", class: "small", dataset: { focus: "delete" } }, "Delete");
      remove.addEventListener("click", () => this.confirmDelete(message, actions));
      actions.append(edit, remove);
      item.append(h("span", { class: "receipt" }, message.is_read ? "Read" : "Sent"));
    }
    item.append(h("div", { class: "tools" }, this.renderReactions(message), actions), palette);
    return item;
  }

  renderAttachments(attachments) {
    if (!attachments.length) return null;
    return h(
      "ul",
      { class: "attachments", "aria-label": "Files" },
      attachments.map((file) =>
        h(
          "li",
          {},
          file.thumbnail_url
            ? h(
                "a",
                { href: file.url, target: "_blank", rel: "noopener" },
                h("img", { src: file.thumbnail_url, alt: file.name, ...thumbnailSize(file), loading: "lazy" }),
              )
            : h("a", { href: file.url, download: file.name }, `${file.name} (${formatSize(file.size)})`),
        ),
      ),
    );
  }

  renderReactions(message) {
    return h(
      "div",
      { class: "reactions" },
      message.reactions.map((reaction) =>
        h(
          "button",
          {
            type: "button",
            class: "small reaction",
            "aria-pressed": String(reaction.me),
            "aria-label": `${reaction.emoji} ${reaction.count}${reaction.me ? ", yours" : ""}`,
            dataset: { focus: `reaction ${reaction.emoji}` },
            onclick: () => this.react(message, reaction.emoji, !reaction.me),
          },
          `${reaction.emoji} ${reaction.count}`,
        ),
      ),
    );
  }

  // The answer is applied only if no reaction event for the message came meanwhile: an event
  // is at least as new as the answer (its own, or a later change), and taking mine back
  // from the state it already shows would count me out twice.
  async react(message, emoji, add) {
    const path = `/api/threads/${message.thread}/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`;
    const eventsBefore = this.reactionEvents.get(message.id) ?? 0;
    const overtaken = () => (this.reactionEvents.get(message.id) ?? 0) !== eventsBefore;
    try {
      if (add) {
        const answer = await api("PUT", path);
        const current = this.messages.get(message.id);
        if (current && !overtaken()) this.show({ ...current, reactions: answer.reactions });
      } else {
        await api("DELETE", path);
        const current = this.messages.get(message.id);
        if (current && !overtaken()) {
          const reactions = current.reactions
            .map((reaction) => (reaction.emoji === emoji ? { ...reaction, count: reaction.count - 1, me: false } : reaction))
            .filter((reaction) => reaction.count > 0);
          this.show({ ...current, reactions });
        }
      }
    } catch (error) {
      this.alert.textContent = error.message;
    }
  }

  edit(message, item) {
    this.editing.add(message.id);
    const box = h("textarea", { "aria-label": "Edit message", rows: "2" });
    box.value = message.text;
    const problem = h("p", { class: "error", role: "alert" });
    const form = h(
      "form",
      { class: "edit" },
      box,
      h("button", { type: "submit", class: "small" }, "Save"),
      h("button", { type: "button", class: "small secondary", onclick: () => finish() }, "Cancel"),
      problem,
    );
    const finish = () => {
      this.editing.delete(message.id);
      const current = this.messages.get(message.id);
      if (current) this.show(current);
      this.elements.get(message.id)?.focus();
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const saved = await api("PATCH", `/api/threads/${message.thread}/messages/${message.id}/`, { json: { text: box.value } });
        this.messages.set(saved.id, saved);
        finish();
      } catch (error) {
        problem.textContent = error.message;
      }
    });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") finish();
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    const text = item.querySelector(".bubble .text");
    if (text) text.replaceWith(form);
    else item.querySelector(".bubble").append(form);
    box.focus();
  }

  confirmDelete(message, actions, { focus = true } = {}) {
    const kept = [...actions.childNodes];
    const keep = h("button", { type: "button", class: "small secondary", dataset: { focus: "keep" } }, "Keep");
    const yes = h("button", { type: "button", class: "small danger", dataset: { focus: "confirm delete" } }, "Yes, delete");
    const unconfirm = () => {
      delete actions.dataset.confirming;
      replaceChildren(actions, kept);
    };
    keep.addEventListener("click", () => {
      unconfirm();
      kept.at(-1).focus();
    });
    yes.addEventListener("click", async () => {
      try {
        await api("DELETE", `/api/threads/${message.thread}/messages/${message.id}/`);
        const current = this.messages.get(message.id);
        if (current) this.show({ ...current, text: "", attachments: [], deleted: new Date().toISOString() });
      } catch (error) {
        this.alert.textContent = error.message;
        unconfirm();
      }
    });
    actions.dataset.confirming = "true";
    replaceChildren(actions, h("span", {}, "Delete this message?"), yes, keep);
    if (focus) yes.focus();
  }

  // Read receipts: a received message counts as read once most of it has been on screen
  // while the page was visible.
  seen(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const id = Number(entry.target.dataset.id);
      this.observer.unobserve(entry.target);
      this.readUpTo = Math.max(this.readUpTo, id);
    }
    clearTimeout(this.markTimer);
    this.markTimer = setTimeout(() => this.markRead(), MARK_READ_PAUSE_MS);
  }

  // Now, not after the pause: the conversation these ids belong to is being left, and ids
  // are global, so sent later for the next conversation they would mark unseen ones read.
  flushRead() {
    clearTimeout(this.markTimer);
    this.markRead();
  }

  async markRead() {
    if (document.visibilityState !== "visible" || !this.threadId || !this.readUpTo) return;
    const upTo = this.readUpTo;
    const threadId = this.threadId;
    this.readUpTo = 0;
    try {
      await api("PATCH", `/api/threads/${threadId}/mark_read`, { json: { up_to: upTo } });
      if (threadId !== this.threadId) return;
      for (const message of this.messages.values()) {
        if (message.sender !== this.app.me.id && message.id <= upTo) message.is_read = true;
      }
    } catch {
      if (threadId === this.threadId) this.readUpTo = Math.max(this.readUpTo, upTo);
    }
  }

  typed() {
    const now = Date.now();
    if (this.input.value && now - this.lastTypingSent > TYPING_EVERY_MS) {
      this.lastTypingSent = now;
      this.app.sendTyping(this.threadId);
    }
  }

  // Files are uploaded as soon as they are picked or dropped, then sent with the message.
  upload(picked) {
    for (const file of picked) {
      const entry = { key: crypto.randomUUID(), name: file.name, state: "uploading", attachment: null, error: "" };
      this.files.push(entry);
      const threadId = this.threadId;
      const form = new FormData();
      form.append("file", file);
      api("POST", `/api/threads/${threadId}/attachments`, { form })
        .then((attachment) => {
          entry.state = "ready";
          entry.attachment = attachment;
        })
        .catch((error) => {
          entry.state = "failed";
          entry.error = error.message;
        })
        .finally(() => this.renderFiles());
    }
    this.renderFiles();
  }

  renderFiles() {
    replaceChildren(
      this.fileList,
      this.files.map((entry) => {
        const remove = h("button", { type: "button", class: "small secondary", "aria-label": `Remove ${entry.name}` }, "×");
        remove.addEventListener("click", () => {
          this.files = this.files.filter((other) => other !== entry);
          this.renderFiles();
          this.input.focus();
        });
        const state = { uploading: "uploading…", ready: "ready", failed: `not uploaded: ${entry.error}` }[entry.state];
        return h("li", { class: `file ${entry.state}` }, h("span", {}, `${entry.name} (${state})`), remove);
      }),
    );
    this.sendButton.disabled = this.files.some((entry) => entry.state === "uploading");
  }

  async send() {
    const text = this.input.value.trim();
    if (this.files.some((entry) => entry.state === "uploading")) return;
    const ready = this.files.filter((entry) => entry.state === "ready").map((entry) => entry.attachment);
    if (!text && !ready.length) return;
    if (text.length > this.maxLength) {
      this.alert.textContent = `A message can be at most ${this.maxLength} characters; this one has ${text.length}.`;
      return;
    }
    const sending = { clientId: crypto.randomUUID(), threadId: this.threadId, text, attachments: ready, state: "sending", error: "" };
    this.pending.set(sending.clientId, sending);
    this.input.value = "";
    this.files = [];
    this.renderFiles();
    this.alert.textContent = "";
    this.showPending();
    // Written far back in the history: the newest messages come first, or mine would sit
    // right after older ones, and the ones between would never load (loadNewer goes on
    // from the last shown). If they cannot be loaded now, deliver leaves mine out too.
    if (this.hasMoreAfter) await this.loadLatest().catch(() => {});
    this.scrollToEnd();
    await this.deliver(sending);
  }

  // Every attempt carries the same client_id, so a retry of a message that did arrive
  // answers the stored one instead of posting it twice.
  async deliver(sending) {
    for (let attempt = 1; ; attempt += 1) {
      if (this.disposed) return;
      sending.state = "sending";
      this.showPending();
      try {
        const message = await api("POST", `/api/threads/${sending.threadId}/messages`, {
          json: { text: sending.text, attachments: sending.attachments.map((file) => file.id), client_id: sending.clientId },
        });
        this.pending.delete(sending.clientId);
        this.showPending();
        if (message.thread === this.threadId && !this.hasMoreAfter) {
          this.show(message);
          this.scrollToEnd();
        }
        return;
      } catch (error) {
        if (isRetryable(error) && attempt < SEND_ATTEMPTS) {
          await pause(1000 * 2 ** (attempt - 1));
          continue;
        }
        sending.state = "failed";
        sending.error = error.message;
        this.showPending();
        return;
      }
    }
  }

  // The Retry button goes with the attempt: the keyboard goes on from the message box.
  retry(sending) {
    this.input.focus();
    this.deliver(sending);
  }

  // A failed send goes back into the composer, text and files, to be changed and sent anew.
  takeBack(sending) {
    this.discard(sending);
    if (!this.input.value) this.input.value = sending.text;
    this.files.push(
      ...sending.attachments.map((attachment) => ({ key: crypto.randomUUID(), name: attachment.name, state: "ready", attachment, error: "" })),
    );
    this.renderFiles();
  }

  discard(sending) {
    this.pending.delete(sending.clientId);
    this.showPending();
    this.input.focus();
  }

  // Each message on its way is drawn again only when its own state changes: the others
  // keep their nodes, so the keyboard stays on one's Retry while another is retried, and
  // a screen reader hears each "Not sent" once.
  showPending() {
    const drawn = new Map([...this.log.querySelectorAll(".pending")].map((element) => [element.dataset.clientId, element]));
    for (const sending of this.pending.values()) {
      if (sending.threadId !== this.threadId) continue;
      const look = `${sending.state}\n${sending.error}`;
      const element = drawn.get(sending.clientId);
      drawn.delete(sending.clientId);
      if (element?.dataset.look === look) continue;
      const fresh = this.pendingElement(sending, look);
      if (element) element.replaceWith(fresh);
      else this.log.append(fresh);
    }
    for (const element of drawn.values()) element.remove();
  }

  pendingElement(sending, look) {
    const status =
      sending.state === "sending"
        ? h("span", { class: "receipt" }, "Sending…")
        : h(
            "p",
            { class: "error", role: "alert" },
            `Not sent: ${sending.error} `,
            h("button", { type: "button", class: "small", onclick: () => this.retry(sending) }, "Retry"),
            " ",
            h("button", { type: "button", class: "small secondary", onclick: () => this.takeBack(sending) }, "Edit"),
            " ",
            h("button", { type: "button", class: "small secondary", onclick: () => this.discard(sending) }, "Discard"),
          );
    return h(
      "li",
      { class: `message mine pending ${sending.state}`, dataset: { clientId: sending.clientId, look } },
      h(
        "div",
        { class: "bubble" },
        sending.text ? h("p", { class: "text" }, sending.text) : null,
        sending.attachments.length ? h("p", { class: "meta" }, `📎 ${sending.attachments.map((file) => file.name).join(", ")}`) : null,
      ),
      status,
    );
  }

  async search() {
    const text = this.searchInput.value.trim();
    if (!text) return;
    try {
      const page = await api("GET", query(`/api/threads/${this.threadId}/messages/`, { search: text, limit: 20 }));
      replaceChildren(
        this.results,
        page.results.length
          ? page.results.map((message) =>
              h(
                "li",
                {},
                h(
                  "button",
                  { type: "button", class: "result", onclick: () => this.loadAround(message.id) },
                  h("span", { class: "author" }, message.sender === this.app.me.id ? "You" : message.sender_detail.username),
                  ": ",
                  message.text,
                  " ",
                  h("time", { datetime: message.created }, formatTime(message.created)),
                ),
              ),
            )
          : h("li", { class: "hint" }, "No messages match."),
      );
      this.searchPanel.hidden = false;
    } catch (error) {
      this.alert.textContent = error.message;
    }
  }

  showBlocked() {
    const blocked = this.app.blocked.has(this.other.id);
    this.blockButton.textContent = `${blocked ? "Unblock" : "Block"} ${this.other.username}`;
  }

  async toggleBlock() {
    const person = this.other;
    try {
      await this.app.setBlocked(person, !this.app.blocked.has(person.id));
      this.showBlocked();
    } catch (error) {
      this.alert.textContent = error.message;
    }
  }
}
