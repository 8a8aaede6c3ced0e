// wampd's sample web client: the ticker, calculator, chat and key-value store components
// (components/ in the repository) through one AutobahnJS connection that reconnects on its own.
"use strict";

(function () {
  const URI = {
    tick: "com.example.ticker.tick",
    add: "com.example.calculator.add",
    divide: "com.example.calculator.divide",
    primes: "com.example.calculator.primes",
    chatJoin: "com.example.chat.join",
    chatLeave: "com.example.chat.leave",
    chatHistory: "com.example.chat.history",
    chatMessage: "com.example.chat.message",
    chatPresence: "com.example.chat.presence",
    kvSet: "com.example.kv.set",
    kvDelete: "com.example.kv.delete",
    kvItems: "com.example.kv.items",
    kvChange: "com.example.kv.on_change",
  };

  const $ = (id) => document.getElementById(id);

  // The router serving this page: wss:// when the page came over https, ws:// otherwise.
  const params = new URLSearchParams(location.search);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = params.get("url") || scheme + "//" + location.host + (params.get("path") || "/ws");
  const realm = params.get("realm") || "realm1";

  // Texts for a WAMP error (an autobahn.Error) or anything else a promise was rejected with.
  function describeError(err) {
    if (err && err.error) {
      const text = err.args && err.args.length ? String(err.args[0]) : "";
      return text ? err.error + ": " + text : err.error;
    }
    return String(err);
  }

  function setStatus(element, text, state) {
    element.textContent = text;
    if (state) {
      element.dataset.state = state;
    }
  }

  function setSessionControls(enabled) {
    for (const fieldset of document.querySelectorAll("fieldset.needs-session")) {
      fieldset.disabled = !enabled;
    }
  }

  // Connection state ----------------------------------------------------------------------

  const connectionStatus = $("connection");

  function showConnection(state, text) {
    setStatus(connectionStatus, text, state);
    document.body.dataset.connection = state;
  }

  // Ticker --------------------------------------------------------------------------------

  const ticker = {
    start(session) {
      return session.subscribe(URI.tick, (args, kwargs) => {
        $("tick-counter").textContent = kwargs.counter;
        $("tick-counter").dataset.counter = kwargs.counter;
        const time = $("tick-time");
        time.dateTime = kwargs.time;
        time.textContent = new Date(kwargs.time).toLocaleTimeString();
      }, { get_retained: true });
    },
  };

  // Calculator ----------------------------------------------------------------------------

  const calculator = {
    session: null,
    pending: null,

    start(session) {
      this.session = session;
    },

    stop() {
      this.session = null;
      if (this.pending) {
        this.finishPrimes("error", "The connection was lost.");
      }
    },

    calculate(event) {
      event.preventDefault();
      const a = Number($("calc-a").value);
      const b = Number($("calc-b").value);
      const procedure = $("calc-op").value === "divide" ? URI.divide : URI.add;
      const result = $("calc-result");
      result.textContent = "…";
      delete result.dataset.error;
      this.session.call(procedure, [a, b]).then(
        (value) => { result.textContent = String(value); },
        (err) => { result.textContent = describeError(err); result.dataset.error = err.error || "error"; },
      );
    },

    startPrimes(event) {
      event.preventDefault();
      if (this.pending) {
        return;
      }
      const limit = Math.floor(Number($("primes-limit").value));
      const status = $("primes-status");
      const progress = $("primes-progress");
      progress.value = 0;
      setStatus(status, "Started…", "running");
      $("primes-start").disabled = true;
      $("primes-cancel").disabled = false;
      const call = this.session.call(URI.primes, [limit], {}, { receive_progress: true });
      this.pending = call;
      call.then(
        (result) => {
          if (this.pending !== call) {
            return;
          }
          progress.value = 100;
          this.finishPrimes("done", "There are " + result.count.toLocaleString() + " primes up to " +
            result.limit.toLocaleString() + ".");
        },
        (err) => {
          if (this.pending !== call) {
            return;
          }
          if (err && err.error === "wamp.error.canceled") {
            this.finishPrimes("canceled", "Canceled" + (err.args && err.args.length ? ": " + err.args[0] : "."));
          } else {
            this.finishPrimes("error", describeError(err));
          }
        },
        (step) => {
          if (this.pending !== call) {
            return;
          }
          progress.value = Math.round(100 * step.done / step.total);
          setStatus(status, "Step " + step.done + " of " + step.total + ": " + step.count.toLocaleString() +
            " primes up to " + step.checked.toLocaleString() + ".", "running");
          status.dataset.done = step.done;
        },
      );
    },

    cancelPrimes() {
      if (this.pending) {
        $("primes-cancel").disabled = true;
        setStatus($("primes-status"), "Canceling…", "canceling");
        // kill: the calculator is interrupted and its answer (wamp.error.canceled) ends the call
        this.pending.cancel({ mode: "kill" });
      }
    },

    finishPrimes(state, text) {
      this.pending = null;
      setStatus($("primes-status"), text, state);
      $("primes-start").disabled = false;
      $("primes-cancel").disabled = true;
    },
  };

  // Chat ----------------------------------------------------------------------------------

  const chat = {
    session: null,
    nick: null,       // the nick this page joined with (it joins again after a reconnect)
    mySession: null,
    entries: [],      // displayed messages, oldest first: {id, nick, text, time}
    seen: new Set(),  // their publication ids
    sessionStart: 0,  // entries from this index on arrived in the current session
    historyLoaded: false,

    start(session) {
      this.session = session;
      this.mySession = null;
      this.historyLoaded = false;
      this.sessionStart = this.entries.length;
      const subscribed = [
        session.subscribe(URI.chatMessage, (args, kwargs, details) => {
          this.add({ id: details.publication, nick: kwargs.nick, text: kwargs.text, time: new Date().toISOString() });
        }),
        session.subscribe(URI.chatPresence, (args, kwargs) => this.showPresence(kwargs.members || []),
          { get_retained: true }),
      ];
      return Promise.all(subscribed).then(() => {
        session.call(URI.chatHistory).then((history) => this.merge(history), () => {});
        if (this.nick) {
          this.join(this.nick);
        }
      });
    },

    stop() {
      this.session = null;
      this.mySession = null;
      $("chat-send-fields").disabled = true;
      $("chat-leave").disabled = true;
    },

    // Fit the room's `history` (oldest first) in once per session: messages shown before this
    // session that it no longer has are older, those received in this session that it lacks newer.
    merge(history) {
      if (this.historyLoaded) {
        return;
      }
      this.historyLoaded = true;
      const ids = new Set(history.map((entry) => entry.id));
      const missing = (entry) => !ids.has(entry.id);
      const older = this.entries.slice(0, this.sessionStart).filter(missing);
      const newer = this.entries.slice(this.sessionStart).filter(missing);
      this.entries = older.concat(history, newer);
      this.seen = new Set(this.entries.map((entry) => entry.id));
      this.render();
    },

    add(entry) {
      if (this.seen.has(entry.id)) {
        return;
      }
      this.seen.add(entry.id);
      this.entries.push(entry);
      this.render();
    },

    render() {
      const list = $("chat-messages");
      list.replaceChildren(...this.entries.slice(-200).map((entry) => {
        const item = document.createElement("li");
        const nick = document.createElement("strong");
        nick.textContent = entry.nick;
        const time = document.createElement("time");
        time.dateTime = entry.time;
        time.textContent = new Date(entry.time).toLocaleTimeString();
        item.append(time, " ", nick, ": ", entry.text);
        return item;
      }));
      list.scrollTop = list.scrollHeight;
    },

    showPresence(members) {
      $("chat-presence").replaceChildren(...members.map((member) => {
        const item = document.createElement("li");
        item.textContent = member.nick + (member.session === this.mySession ? " (you)" : "");
        item.dataset.session = member.session;
        return item;
      }));
    },

    join(nick) {
      const status = $("chat-status");
      // disclose_me: the room learns this session's id, to list it as present until it leaves
      return this.session.call(URI.chatJoin, [nick], {}, { disclose_me: true }).then(
        (joined) => {
          this.nick = nick;
          this.mySession = joined.session;
          this.showPresence(joined.members);
          this.merge(joined.history);
          setStatus(status, "You are in the room as " + nick + ".", "joined");
          $("chat-send-fields").disabled = false;
          $("chat-leave").disabled = false;
          $("chat-text").placeholder = "Message";
        },
        (err) => {
          setStatus(status, "Could not join: " + describeError(err), "error");
        },
      );
    },

    submitJoin(event) {
      event.preventDefault();
      this.join($("chat-nick").value.trim());
    },

    leave() {
      this.nick = null;
      this.mySession = null;
      $("chat-send-fields").disabled = true;
      $("chat-leave").disabled = true;
      $("chat-text").placeholder = "Join to write";
      setStatus($("chat-status"), "You left the room.", "left");
      return this.session.call(URI.chatLeave, [], {}, { disclose_me: true });
    },

    send(event) {
      event.preventDefault();
      const input = $("chat-text");
      const text = input.value.trim();
      if (!text || !this.nick) {
        return;
      }
      this.session.publish(URI.chatMessage, [], { nick: this.nick, text: text },
        { exclude_me: false, acknowledge: true }).then(
        () => { input.value = ""; },
        (err) => setStatus($("chat-status"), "Not sent: " + describeError(err), "error"),
      );
    },
  };

  // Key-value store -----------------------------------------------------------------------

  const kv = {
    session: null,
    data: new Map(),

    start(session) {
      this.session = session;
      return session.subscribe(URI.kvChange, (args, kwargs) => {
        if (kwargs.deleted) {
          this.data.delete(kwargs.key);
        } else {
          this.data.set(kwargs.key, kwargs.value);
        }
        this.render();
      }).then(() => session.call(URI.kvItems)).then((items) => {
        this.data = new Map(Object.entries(items));
        this.render();
      }, (err) => setStatus($("kv-status"), "Could not load the store: " + describeError(err), "error"));
    },

    stop() {
      this.session = null;
    },

    render() {
      const rows = [...this.data.keys()].sort().map((key) => {
        const row = document.createElement("tr");
        row.dataset.key = key;
        const keyCell = document.createElement("th");
        keyCell.scope = "row";
        keyCell.textContent = key;
        const value = this.data.get(key);
        const valueCell = document.createElement("td");
        valueCell.textContent = typeof value === "string" ? value : JSON.stringify(value);
        const actions = document.createElement("td");
        const remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "Delete";
        remove.setAttribute("aria-label", "Delete " + key);
        remove.addEventListener("click", () => this.remove(key));
        actions.append(remove);
        row.append(keyCell, valueCell, actions);
        return row;
      });
      $("kv-entries").replaceChildren(...rows);
      $("kv-empty").hidden = rows.length > 0;
    },

    submit(event) {
      event.preventDefault();
      const key = $("kv-key").value;
      this.session.call(URI.kvSet, [key, $("kv-value").value]).then(
        () => setStatus($("kv-status"), "Set " + key + ".", "ok"),
        (err) => setStatus($("kv-status"), describeError(err), "error"),
      );
    },

    remove(key) {
      if (!this.session) {
        return;
      }
      this.session.call(URI.kvDelete, [key]).then(
        () => setStatus($("kv-status"), "Deleted " + key + ".", "ok"),
        (err) => setStatus($("kv-status"), describeError(err), "error"),
      );
    },
  };

  // Wiring --------------------------------------------------------------------------------

  $("calc-form").addEventListener("submit", (event) => calculator.calculate(event));
  $("primes-form").addEventListener("submit", (event) => calculator.startPrimes(event));
  $("primes-cancel").addEventListener("click", () => calculator.cancelPrimes());
  $("chat-join").addEventListener("submit", (event) => chat.submitJoin(event));
  $("chat-leave").addEventListener("click", () => chat.leave());
  $("chat-send").addEventListener("submit", (event) => chat.send(event));
  $("kv-form").addEventListener("submit", (event) => kv.submit(event));
  $("ws-url").textContent = url;
  $("ws-realm").textContent = realm;

  const connection = new autobahn.Connection({
    url: url,
    realm: realm,
    max_retries: -1,          // keep trying for as long as the page is open
    initial_retry_delay: 1,
    max_retry_delay: 10,
    retry_delay_growth: 1.5,
  });

  // AutobahnJS retries a lost or unreachable connection by itself, but not one whose session the
  // router ended (a restarting wampd says GOODBYE wamp.close.system_shutdown): that is reopened here.
  let reopenAttempts = 0;

  function reopenLater(why) {
    const seconds = Math.min(10, Math.pow(1.5, reopenAttempts));
    reopenAttempts += 1;
    showConnection("reconnecting", "Disconnected (" + why + "); reconnecting in " + Math.round(seconds) + " s…");
    setTimeout(() => connection.open(), seconds * 1000);
  }

  connection.onopen = (session) => {
    reopenAttempts = 0;
    showConnection("open", "Connected (session " + session.id + ").");
    setSessionControls(true);
    calculator.start(session);
    const started = [ticker.start(session), chat.start(session), kv.start(session)];
    Promise.all(started).catch((err) => {
      showConnection("open", "Connected, but a component is missing: " + describeError(err));
    });
  };

  connection.onclose = (reason, details) => {
    setSessionControls(false);
    calculator.stop();
    chat.stop();
    kv.stop();
    if (reason === "closed") {
      reopenLater((details && details.reason) || reason);
      return true; // AutobahnJS does not retry this one; reopenLater does
    }
    if (details && details.will_retry) {
      const seconds = Math.max(1, Math.round(details.retry_delay));
      showConnection("reconnecting", "Disconnected (" + reason + "); reconnecting in " + seconds + " s…");
    } else {
      showConnection("closed", "Disconnected (" + reason + ").");
    }
    return false; // let AutobahnJS keep retrying
  };

  showConnection("connecting", "Connecting to " + url + "…");
  connection.open();
})();
