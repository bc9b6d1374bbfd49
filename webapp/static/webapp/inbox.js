// The inbox: my threads, latest activity first, each with the other person, the last
// message and an unread badge; the total unread in the page title; and the user directory,
// to start a conversation.

import { ApiError, api, query } from "./api.js";
import { formatTime, h, replaceChildren } from "./dom.js";

const PAGE = 50;
const SEARCH_PAUSE_MS = 250;

function preview(message, me) {
  if (!message) return "No messages yet";
  if (message.deleted) return "Message deleted";
  const files = message.attachments.map((file) => file.name).join(", ");
  const text = message.text || (files ? `📎 ${files}` : "");
  return message.sender === me.id ? `You: ${text}` : text;
}

export class Inbox {
  constructor(app) {
    this.app = app;
    this.threads = new Map();
    this.elsewhere = 0;
    this.items = new Map();
    this.next = null;
    this.selected = null;
    this.list = h("ul", { class: "threads", "aria-label": "Conversations" });
    this.empty = h("p", { class: "hint" }, "No conversations yet: find someone above to talk to.");
    this.more = h("button", { type: "button", class: "secondary", hidden: true }, "More conversations");
    this.more.addEventListener("click", () => this.loadMore().catch((error) => this.tell(error.message)));
    this.notice = h("p", { class: "notice", role: "status" });
    this.people = h("ul", { class: "people", "aria-label": "People found" });
    this.peopleSearch = h("input", { id: "find-people", type: "search", autocomplete: "off", maxlength: 150 });
    this.peopleSearch.addEventListener("input", () => this.findPeople());
    this.element = h(
      "nav",
      { class: "inbox", "aria-labelledby": "inbox-title" },
      h("h2", { id: "inbox-title" }, "Conversations"),
      h(
        "form",
        { role: "search", class: "find", onsubmit: (event) => event.preventDefault() },
        h("label", { for: "find-people" }, "Find people"),
        this.peopleSearch,
      ),
      this.notice,
      this.people,
      this.list,
      this.empty,
      this.more,
    );
  }

  async load() {
    const [page, total] = await Promise.all([
      api("GET", query("/api/threads/", { limit: PAGE })),
      api("GET", "/api/threads/unread_count/"),
    ]);
    this.threads.clear();
    this.next = page.next;
    this.add(page.results);
    this.countElsewhere(total.unread_count);
  }

  async loadMore() {
    if (!this.next) return;
    const url = new URL(this.next, location.href);
    const page = await api("GET", url.pathname + url.search);
    this.next = page.next;
    this.add(page.results);
    await this.recount();
  }

  // The title counts every unread message, in conversations not loaded (beyond the first
  // page) too: the server's total, less what the loaded rows count. It is asked again
  // whenever a conversation that was not loaded comes in or goes.
  countElsewhere(total) {
    const loaded = [...this.threads.values()].reduce((sum, row) => sum + row.unread_count, 0);
    this.elsewhere = this.next ? Math.max(0, total - loaded) : 0;
    this.render();
  }

  async recount() {
    const total = await api("GET", "/api/threads/unread_count/");
    this.countElsewhere(total.unread_count);
  }

  add(rows) {
    for (const row of rows) this.threads.set(row.id, row);
    this.render();
  }

  async ensure(threadId) {
    if (this.threads.has(threadId)) return this.threads.get(threadId);
    return this.refresh(threadId);
  }

  async refresh(threadId) {
    try {
      const known = this.threads.has(threadId);
      const row = await api("GET", `/api/threads/${threadId}/`);
      this.add([row]);
      if (!known && this.elsewhere) await this.recount();
      return row;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        this.remove(threadId);
        return null;
      }
      throw error;
    }
  }

  // A row read again in the background, for a live change: a failure is told.
  refreshLater(threadId) {
    this.refresh(threadId).catch((error) => this.tell(error.message));
  }

  remove(threadId) {
    this.threads.delete(threadId);
    this.render();
  }

  apply(event) {
    const thread = this.threads.get(event.thread);
    switch (event.type) {
      case "thread.created":
        this.add([event.data]);
        return;
      case "thread.deleted":
        this.remove(event.thread);
        if (!thread && this.elsewhere) this.recount().catch(() => {});
        return;
      case "message.created": {
        if (!thread) {
          this.refreshLater(event.thread);
          return;
        }
        const message = event.data;
        if (!message) return;
        // A change replayed after the inbox was read is already in its row.
        if (thread.last_message && thread.last_message.id >= message.id) return;
        thread.last_message = message;
        thread.updated = message.created;
        if (message.sender !== this.app.me.id) thread.unread_count += 1;
        break;
      }
      case "message.updated":
      case "message.deleted":
        if (!thread) return;
        if (event.type === "message.deleted" && event.data?.sender !== this.app.me.id) {
          // A deleted message stops counting as unread: the row says by how much.
          this.refreshLater(event.thread);
          return;
        }
        if (thread.last_message?.id === event.message && event.data) thread.last_message = event.data;
        break;
      case "thread.read":
        if (!thread) {
          if (event.reader === this.app.me.id && this.elsewhere) this.refreshLater(event.thread);
          return;
        }
        if (event.reader === this.app.me.id) {
          if (typeof event.unread_count === "number") thread.unread_count = event.unread_count;
        } else if (thread.last_message && thread.last_message.id <= event.up_to) {
          thread.last_message.is_read = true;
        }
        break;
      default:
        return;
    }
    this.render();
  }

  render() {
    const rows = [...this.threads.values()].sort(
      (a, b) => new Date(b.updated) - new Date(a.updated) || b.id - a.id,
    );
    const focused = this.list.contains(document.activeElement) ? document.activeElement : null;
    const keep = new Set(rows.map((row) => row.id));
    for (const [id, item] of this.items) {
      if (!keep.has(id)) {
        item.remove();
        this.items.delete(id);
      }
    }
    let previous = null;
    for (const row of rows) {
      let item = this.items.get(row.id);
      if (!item) {
        item = h("li", {});
        this.items.set(row.id, item);
      }
      this.fill(item, row);
      // Moving a node loses its focus: only nodes out of place are moved, and the keyboard
      // goes with an entry that had to (a new message takes it to the top).
      const wantedAfter = previous ? previous.nextSibling : this.list.firstChild;
      if (wantedAfter !== item) this.list.insertBefore(item, wantedAfter);
      previous = item;
    }
    if (focused?.isConnected && document.activeElement !== focused) focused.focus();
    this.empty.hidden = rows.length > 0;
    this.more.hidden = !this.next;
    const unread = rows.reduce((total, row) => total + row.unread_count, this.elsewhere);
    document.title = unread ? `(${unread}) Chat` : "Chat";
  }

  fill(item, row) {
    const other = this.app.otherOf(row);
    const current = row.id === this.selected;
    const badge = row.unread_count
      ? h("span", { class: "badge", "aria-label": `${row.unread_count} unread` }, String(row.unread_count))
      : null;
    const button = item.querySelector("button") ?? h("button", { type: "button", class: "thread-link" });
    button.onclick = () => this.app.open(row.id);
    if (current) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
    replaceChildren(
      button,
      h("span", { class: "name" }, other.username),
      badge,
      h("span", { class: "preview" }, preview(row.last_message, this.app.me)),
      row.last_message ? h("time", { datetime: row.last_message.created }, formatTime(row.last_message.created)) : null,
    );
    if (!button.parentNode) item.append(button);
  }

  tell(text) {
    this.notice.textContent = text;
  }

  select(threadId) {
    this.selected = threadId;
    this.render();
  }

  // Back from a conversation, the keyboard goes on from its entry (the first one if it is
  // gone), not from the top of the list.
  focusThread(threadId) {
    (this.items.get(threadId) ?? this.list).querySelector("button")?.focus();
  }

  findPeople() {
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(async () => {
      const text = this.peopleSearch.value.trim();
      if (!text) {
        replaceChildren(this.people);
        return;
      }
      let page;
      try {
        page = await api("GET", query("/api/users/", { search: text, limit: 10 }));
      } catch (error) {
        replaceChildren(this.people, h("li", { class: "error" }, error.message));
        return;
      }
      if (text !== this.peopleSearch.value.trim()) return;
      const people = page.results.filter((person) => person.id !== this.app.me.id);
      replaceChildren(
        this.people,
        people.length
          ? people.map((person) =>
              h(
                "li",
                {},
                h("button", { type: "button", onclick: () => this.startWith(person) }, `Message ${person.username}`),
              ),
            )
          : h("li", { class: "hint" }, "Nobody by that name."),
      );
    }, SEARCH_PAUSE_MS);
  }

  async startWith(person) {
    try {
      const thread = await api("POST", "/api/threads/", { json: { participants: [person.id] } });
      this.add([thread]);
      this.peopleSearch.value = "";
      replaceChildren(this.people);
      await this.app.open(thread.id);
    } catch (error) {
      replaceChildren(this.people, h("li", { class: "error", role: "alert" }, error.message));
    }
  }
}
