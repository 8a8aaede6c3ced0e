// AutobahnJS <-> wampd interop for Advanced Profile features, driven by
// tests/integration/test_autobahn_js_advanced.py.
//
// Usage: node advanced.js URL REALM SERIALIZER      (SERIALIZER: json | msgpack)
//
// Sessions A (caller, publisher), B and C (callees, subscriber) run one scenario after the other:
//   progressive_results  progressive call results delivered to the caller's promise progress handler
//   cancel_js_callee     CANCEL to an AutobahnJS callee, which announces no call_canceling (skip applies)
//   cancel_interrupt     CANCEL kill / killnowait to a callee that announces call_canceling; since
//                        AutobahnJS 26 neither announces it for callees nor handles INTERRUPT, that
//                        callee is a minimal WAMP peer written here on the global WebSocket
//   patterns             prefix and wildcard subscriptions; details.topic is the published topic
//   disclose             disclose_me on PUBLISH (details.publisher) and on CALL (details.caller)
//   roundrobin           a shared registration of B and C with invoke roundrobin
// A scenario that throws or waits in vain (2 s) fails its own checks only. Prints one JSON line with
// the observations and the named checks on stdout.
//
// Exit codes: 0 every check passed; 1 a check failed (names on stderr); 2 the 15 s overall timeout
// expired or the script could not run; 64 bad usage.
//
// autobahn 26.x uses the global WebSocket, which Node >= 22 provides and Node 20 only behind
// --experimental-websocket: on Node 20 the script re-runs itself once with that flag.

'use strict';

const OVERALL_TIMEOUT_MS = 15000;
// bound of every single wait inside a scenario; six scenarios each stuck once still end before the timeout
const WAIT_MS = 2000;
// pause before judging that nothing more arrives (a duplicate, a stray answer)
const SETTLE_MS = 200;
const SERIALIZER_NAMES = ['json', 'msgpack'];

// WAMP message type codes used on the wire
const HELLO = 1;
const WELCOME = 2;
const ABORT = 3;
const GOODBYE = 6;
const ERROR = 8;
const CALL = 48;
const RESULT = 50;
const REGISTER = 64;
const REGISTERED = 65;
const INVOCATION = 68;
const INTERRUPT = 69;

const CANCELED = 'wamp.error.canceled';

const argv = process.argv.slice(2);
if (argv.length !== 3 || !SERIALIZER_NAMES.includes(argv[2])) {
  process.stderr.write('usage: node advanced.js URL REALM SERIALIZER (SERIALIZER: ' +
    SERIALIZER_NAMES.join(' | ') + ')\n');
  process.exit(64);
}
const [url, realm, serializerName] = argv;

const harness = require('./harness');
const { progress, describe, equal } = harness;

harness.start({ name: 'advanced', timeoutMs: OVERALL_TIMEOUT_MS, run });

// -- helpers ---------------------------------------------------------------------------------------------------------




function report(what, err) {
  process.stderr.write('advanced ' + what + ' ' + describe(err) + '\n');
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Resolves like `promise`, or rejects after WAIT_MS naming `what`.
function within(promise, what) {
  let timer;
  const expired = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('waited ' + WAIT_MS + ' ms in vain for ' + what)), WAIT_MS);
  });
  return Promise.race([Promise.resolve(promise), expired]).finally(() => clearTimeout(timer));
}

// Resolves with the first truthy value of `probe()`, polled every 10 ms for at most WAIT_MS.
async function until(probe, what) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = probe();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error('waited ' + WAIT_MS + ' ms in vain for ' + what);
    }
    await sleep(10);
  }
}

// A promise with its resolve function exposed.
function signal() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

// Resolves with the outcome of a call: {result} or {error, args, kwargs}.
function outcome(promise) {
  return Promise.resolve(promise).then(
    (result) => ({ result }),
    (err) => ({ error: err && err.error, args: err && err.args, kwargs: err && err.kwargs }),
  );
}

function makeSerializer(autobahn) {
  return harness.serializer(autobahn, serializerName);
}

// -- AutobahnJS sessions ---------------------------------------------------------------------------------------------

// Opens a connection and resolves with {connection, session, details, closed, wire} once joined;
// `closed` resolves with (reason, details) of Connection.onclose, `wire` is the session's tap.
function open(autobahn, name) {
  return new Promise((resolve, reject) => {
    let joined = false;
    let resolveClosed;
    const closed = new Promise((r) => { resolveClosed = r; });
    const connection = new autobahn.Connection({
      url,
      realm,
      serializers: [makeSerializer(autobahn)],
      max_retries: 0,
      retry_if_unreachable: false,
      on_user_error: (err, msg) => report(name + ' user error: ' + msg, err),
      on_internal_error: (err, msg) => report(name + ' internal error: ' + msg, err),
    });
    connection.onopen = (session, details) => {
      joined = true;
      resolve({ connection, session, details, closed, wire: tap(session) });
    };
    connection.onclose = (reason, details) => {
      resolveClosed({ reason, details });
      if (!joined) {
        reject(new Error('session ' + name + ' did not join: ' + reason + ' ' + describe(details)));
      }
      return true; // never auto-reconnect
    };
    connection.open();
  });
}

// Records the WAMP messages an AutobahnJS session sends and receives: {sent, received, stale}.
//
// AutobahnJS 26 settles a call canceled in skip or killnowait mode at once (rejecting it with
// "Cancelled") and forgets it, so the ERROR the dealer then sends for it, as the spec requires, makes
// AutobahnJS fail its transport ("CALL-ERROR received for non-pending request ID"). The tap keeps
// such an ERROR in `stale` for the checks and does not pass it on.
function tap(session) {
  const wire = { sent: [], received: [], stale: [] };
  const send = session._send_wamp;
  session._send_wamp = function (msg) {
    wire.sent.push(msg);
    return send.call(session, msg);
  };
  const socket = session._socket;
  const receive = socket.onmessage;
  socket.onmessage = function (msg) {
    wire.received.push(msg);
    if (msg[0] === ERROR && msg[1] === CALL && !(msg[2] in session._call_reqs)) {
      wire.stale.push(msg);
      return undefined;
    }
    return receive.call(socket, msg);
  };
  return wire;
}

// The request id of the last CALL `wire` sent for `procedure`.
function lastCallRequest(wire, procedure) {
  const calls = wire.sent.filter((msg) => msg[0] === CALL && msg[3] === procedure);
  return calls.length > 0 ? calls[calls.length - 1][1] : undefined;
}

// Messages of type `type` answering request `request` (ERROR: of a CALL) that `wire` received.
function answers(wire, type, request) {
  return wire.received.filter((msg) => msg[0] === type && (type === ERROR ? msg[1] === CALL && msg[2] === request
    : msg[1] === request));
}

// -- a minimal callee that announces call_canceling ------------------------------------------------------------------

// Joins REALM over the global WebSocket announcing roles.callee.features.call_canceling and resolves
// with {id, received, serve(procedure, onInvocation, onInterrupt), send(msg), leave()}. Every
// message received is kept in `received`.
function openCancelableCallee(autobahn) {
  return new Promise((resolve, reject) => {
    const serializer = makeSerializer(autobahn);
    const ws = new WebSocket(url, ['wamp.2.' + serializerName]);
    ws.binaryType = 'arraybuffer';
    const handlers = {};
    let nextRequest = 1;
    const peer = { id: null, received: [], connected: true, closed: signal() };

    peer.send = async (msg) => ws.send(await serializer.serialize(msg));

    peer.serve = async (procedure, onInvocation, onInterrupt) => {
      const request = nextRequest++;
      await peer.send([REGISTER, request, {}, procedure]);
      const registered = await until(() => peer.received.find((msg) => msg[0] === REGISTERED && msg[1] === request),
        'REGISTERED for ' + procedure);
      handlers[registered[2]] = { onInvocation, onInterrupt, invocations: {} };
      return registered[2];
    };

    peer.leave = async () => {
      await peer.send([GOODBYE, {}, 'wamp.close.close_realm']);
      await until(() => peer.received.find((msg) => msg[0] === GOODBYE), 'GOODBYE from the router');
      ws.close();
      await within(peer.closed.promise, 'the raw callee WebSocket to close');
    };

    ws.onopen = () => {
      peer.send([HELLO, realm, { roles: { callee: { features: { call_canceling: true } } } }]);
    };
    ws.onmessage = (evt) => {
      const msg = serializer.unserialize(evt.data);
      peer.received.push(msg);
      if (msg[0] === WELCOME) {
        peer.id = msg[1];
        resolve(peer);
      } else if (msg[0] === ABORT) {
        reject(new Error('raw callee did not join: ' + describe(msg)));
      } else if (msg[0] === INVOCATION && handlers[msg[2]]) {
        handlers[msg[2]].invocations[msg[1]] = true;
        handlers[msg[2]].onInvocation(msg);
      } else if (msg[0] === INTERRUPT) {
        for (const handler of Object.values(handlers)) {
          if (handler.invocations[msg[1]]) {
            handler.onInterrupt(msg);
          }
        }
      }
    };
    ws.onclose = (evt) => {
      peer.connected = false;
      peer.closed.resolve({ code: evt.code, reason: evt.reason });
      if (peer.id === null) {
        reject(new Error('raw callee WebSocket closed before WELCOME: ' + evt.code + ' ' + evt.reason));
      }
    };
  });
}

// -- scenarios -------------------------------------------------------------------------------------------------------

// (a) The callee sends three progressive results, then the final one; the caller's progress handler
// sees 1, 2, 3 in order before the promise resolves. Without receive_progress only the final comes.
async function progressiveResults({ a, b }) {
  const seen = [];
  await b.session.register('com.adv.progress', (args, kwargs, details) => {
    seen.push(typeof details.progress === 'function');
    if (typeof details.progress === 'function') {
      for (let i = 1; i <= 3; i++) {
        details.progress([i]);
      }
    }
    return 'final';
  });
  const order = [];
  // autobahn's default deferreds are when.js ones: progress goes to the third handler of then()
  const asked = a.session.call('com.adv.progress', [], {}, { receive_progress: true }).then(
    (result) => { order.push({ final: result }); return result; },
    (err) => { order.push({ error: err && err.error }); throw err; },
    (progress) => { order.push({ progress }); },
  );
  await within(outcome(asked), 'the progressive call to finish');
  const unasked = [];
  const plain = a.session.call('com.adv.progress', [], {}, {}).then(
    (result) => { unasked.push({ final: result }); },
    (err) => { unasked.push({ error: err && err.error }); },
    (progress) => { unasked.push({ progress }); },
  );
  await within(plain, 'the plain call to finish');
  const observed = { order, unasked, callee_could_progress: seen };
  observed.checks = {
    progress_in_order: equal(order, [{ progress: 1 }, { progress: 2 }, { progress: 3 }, { final: 'final' }]),
    progress_only_when_asked: equal(seen, [true, false]) && equal(unasked, [{ final: 'final' }]),
  };
  return observed;
}

// (b1) An AutobahnJS callee announces no call_canceling: any CANCEL acts as skip. The caller gets
// ERROR canceled at once, the callee no INTERRUPT, and the callee's late answer is dropped.
async function cancelJsCallee({ a, b }) {
  const procedure = 'com.adv.slow_js';
  // one resolve function per invocation: called, it makes the callee answer
  const release = [];
  await b.session.register(procedure, () => new Promise((resolve) => release.push(resolve)));
  await b.session.register('com.adv.echo', (args) => args[0]);
  // the callee features AutobahnJS announced and the dealer offers: call_canceling is not among them
  const calleeFeatures = b.session.features && b.session.features.callee;

  const modes = {};
  for (const mode of ['kill', 'killnowait']) {
    const count = release.length;
    const call = a.session.call(procedure, [mode]);
    const request = lastCallRequest(a.wire, procedure);
    await until(() => release.length > count, 'the invocation of ' + procedure + ' (' + mode + ')');
    call.cancel({ mode });
    const settled = await within(outcome(call), 'the canceled call (' + mode + ') to settle');
    await until(() => answers(a.wire, ERROR, request).length > 0, 'ERROR for the canceled call (' + mode + ')');
    release[release.length - 1]('late ' + mode); // the callee answers after all: the router must drop it
    // the echo's answer comes after the late one on the same callee, so a forwarded late RESULT shows first
    const echo = await within(outcome(a.session.call('com.adv.echo', [mode])), 'the echo after the cancel');
    await sleep(SETTLE_MS);
    modes[mode] = {
      settled,
      router_errors: answers(a.wire, ERROR, request).map((msg) => msg[4]),
      stray_results: answers(a.wire, RESULT, request).length,
      echo,
    };
  }
  const interrupts = b.wire.received.filter((msg) => msg[0] === INTERRUPT).length;
  const observed = { modes, interrupts_to_callee: interrupts, callee_features: calleeFeatures };
  const kill = modes.kill;
  const killnowait = modes.killnowait;
  observed.checks = {
    js_callee_kill_gets_canceled: kill.settled.error === CANCELED && equal(kill.router_errors, [CANCELED]),
    js_callee_killnowait_gets_canceled: equal(killnowait.router_errors, [CANCELED]),
    js_callee_not_interrupted: interrupts === 0,
    js_callee_late_answer_dropped: kill.stray_results === 0 && killnowait.stray_results === 0 &&
      kill.echo.result === 'kill' && killnowait.echo.result === 'killnowait',
  };
  return observed;
}

// (b2) A callee that announces call_canceling is interrupted. kill: the router waits for the callee's
// ERROR and relays it (its args prove whose it is). killnowait: the caller gets ERROR canceled at
// once, the callee INTERRUPT killnowait, and the callee's late ERROR is dropped.
async function cancelInterrupt({ autobahn, a, cleanup }) {
  const procedure = 'com.adv.interruptible';
  const callee = await openCancelableCallee(autobahn);
  cleanup.push(() => callee.leave());
  const invocations = [];
  const interrupts = [];
  await callee.serve(procedure, (msg) => invocations.push(msg), (msg) => {
    interrupts.push(msg);
    const mode = msg[2] && msg[2].mode;
    setTimeout(() => callee.send([ERROR, INVOCATION, msg[1], {}, CANCELED, ['interrupted', mode]]), 100);
  });

  const modes = {};
  for (const mode of ['kill', 'killnowait']) {
    const count = invocations.length;
    const call = a.session.call(procedure, [mode]);
    const request = lastCallRequest(a.wire, procedure);
    const invocation = await until(() => invocations[count], 'the invocation of ' + procedure + ' (' + mode + ')');
    call.cancel({ mode });
    const settled = await within(outcome(call), 'the canceled call (' + mode + ') to settle');
    const interrupt = await until(() => interrupts.find((msg) => msg[1] === invocation[1]),
      'INTERRUPT at the callee (' + mode + ')');
    await until(() => answers(a.wire, ERROR, request).length > 0, 'ERROR for the canceled call (' + mode + ')');
    // the callee's ERROR goes out 100 ms after the INTERRUPT: wait past it before counting answers
    await sleep(100 + SETTLE_MS);
    modes[mode] = {
      settled,
      interrupt_options: interrupt[2],
      router_errors: answers(a.wire, ERROR, request).map((msg) => ({ error: msg[4], args: msg[5] })),
    };
  }
  const calleeAttached = callee.connected && !callee.received.some((msg) => msg[0] === ABORT || msg[0] === GOODBYE);
  const observed = { modes, callee_attached: calleeAttached, callee_id: callee.id };
  const kill = modes.kill;
  const killnowait = modes.killnowait;
  observed.checks = {
    kill_interrupts_callee: kill.interrupt_options.mode === 'kill',
    kill_relays_callee_error: kill.settled.error === CANCELED && equal(kill.settled.args, ['interrupted', 'kill']) &&
      kill.router_errors.length === 1,
    killnowait_interrupts_callee: killnowait.interrupt_options.mode === 'killnowait',
    killnowait_answers_at_once: equal(killnowait.router_errors.map((e) => e.error), [CANCELED]) &&
      !equal(killnowait.router_errors[0].args, ['interrupted', 'killnowait']),
    interrupted_callee_stays: calleeAttached,
  };
  return observed;
}

// (c) Prefix and wildcard subscriptions receive matching publications with details.topic set to the
// topic published to, and nothing else.
async function patterns({ a, b }) {
  const prefix = [];
  const wildcard = [];
  await b.session.subscribe('com.adv.prefix', (args, kwargs, details) => {
    prefix.push({ args, topic: details.topic });
  }, { match: 'prefix' });
  await b.session.subscribe('com.adv..wild', (args, kwargs, details) => {
    wildcard.push({ args, topic: details.topic });
  }, { match: 'wildcard' });
  for (const [topic, value] of [['com.adv.prefix.one.two', 'p'], ['com.adv.x.wild', 'w'], ['com.adv.other.thing', 'n'],
    ['com.adv.x.wild.deeper', 'n']]) {
    await within(a.session.publish(topic, [value], {}, { acknowledge: true }), 'PUBLISHED for ' + topic);
  }
  await until(() => prefix.length >= 1 && wildcard.length >= 1, 'the pattern events');
  await sleep(SETTLE_MS);
  const observed = { prefix, wildcard };
  observed.checks = {
    prefix_event_topic: equal(prefix, [{ args: ['p'], topic: 'com.adv.prefix.one.two' }]),
    wildcard_event_topic: equal(wildcard, [{ args: ['w'], topic: 'com.adv.x.wild' }]),
  };
  return observed;
}

// (d) disclose_me discloses the publisher to subscribers and the caller to callees, and only then.
async function disclose({ a, b }) {
  const events = [];
  await b.session.subscribe('com.adv.disclosed', (args, kwargs, details) => {
    events.push({ args, publisher: details.publisher === undefined ? null : details.publisher });
  });
  await within(a.session.publish('com.adv.disclosed', ['shown'], {}, { acknowledge: true, disclose_me: true }),
    'PUBLISHED with disclose_me');
  await within(a.session.publish('com.adv.disclosed', ['hidden'], {}, { acknowledge: true }), 'PUBLISHED');
  await until(() => events.length >= 2, 'the two events');
  await b.session.register('com.adv.whoami', (args, kwargs, details) =>
    (details.caller === undefined ? null : details.caller));
  const shown = await within(outcome(a.session.call('com.adv.whoami', [], {}, { disclose_me: true })),
    'the call with disclose_me');
  const hidden = await within(outcome(a.session.call('com.adv.whoami')), 'the call without disclose_me');
  const observed = { events, calls: { shown, hidden }, publisher_id: a.session.id };
  observed.checks = {
    publisher_disclosed: equal(events,
      [{ args: ['shown'], publisher: a.session.id }, { args: ['hidden'], publisher: null }]),
    caller_disclosed: shown.result === a.session.id && hidden.result === null,
  };
  return observed;
}

// (e) B and C share a roundrobin registration: successive calls alternate between them.
async function roundrobin({ a, b, c }) {
  const procedure = 'com.adv.shared';
  const regB = await b.session.register(procedure, () => 'B', { invoke: 'roundrobin' });
  const regC = await c.session.register(procedure, () => 'C', { invoke: 'roundrobin' });
  const served = [];
  for (let i = 0; i < 6; i++) {
    const answer = await within(outcome(a.session.call(procedure)), 'call ' + (i + 1) + ' to ' + procedure);
    served.push(answer.result === undefined ? answer : answer.result);
  }
  const observed = { served, registrations: [regB.id, regC.id] };
  observed.checks = {
    shared_registration: regB.id === regC.id,
    roundrobin_alternates: new Set(served).size === 2 && served.every((who) => who === 'B' || who === 'C') &&
      served.every((who, i) => i === 0 || who !== served[i - 1]),
  };
  return observed;
}

const SCENARIOS = [
  ['progressive_results', progressiveResults],
  ['cancel_js_callee', cancelJsCallee],
  ['cancel_interrupt', cancelInterrupt],
  ['patterns', patterns],
  ['disclose', disclose],
  ['roundrobin', roundrobin],
];

async function run(autobahn) {
  progress.stage = 'opening sessions';
  const a = await open(autobahn, 'A');
  const b = await open(autobahn, 'B');
  const c = await open(autobahn, 'C');
  const cleanup = [];
  const context = { autobahn, a, b, c, cleanup };

  const results = {
    autobahn: autobahn.version,
    node: process.version,
    serializer: serializerName,
    protocol: a.details.transport && a.details.transport.protocol,
    session_ids: [a.session.id, b.session.id, c.session.id],
    checks: {},
  };
  for (const [name, scenario] of SCENARIOS) {
    progress.stage = 'scenario ' + name;
    try {
      const observed = await scenario(context);
      Object.assign(results.checks, observed.checks);
      delete observed.checks;
      results[name] = observed;
    } catch (err) {
      results[name] = { exception: describe(err) };
      results.checks[name] = false;
    }
  }

  progress.stage = 'leaving';
  for (const leave of cleanup) {
    try {
      await leave();
    } catch (err) {
      results.checks.left_cleanly = false;
      process.stderr.write('advanced: leaving failed: ' + describe(err) + '\n');
    }
  }
  for (const { connection } of [a, b, c]) {
    connection.close();
  }
  const left = await within(Promise.all([a.closed, b.closed, c.closed]), 'the sessions to close');
  results.left = left.map(({ reason, details }) => ({ reason, session_reason: details && details.reason }));
  results.checks.left_cleanly = results.checks.left_cleanly !== false && results.left.every(
    (l) => l.reason === 'closed' && l.session_reason === 'wamp.close.goodbye_and_out');
  return results;
}
