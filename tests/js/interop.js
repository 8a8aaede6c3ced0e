// AutobahnJS <-> wampd interop check, driven by tests/integration/test_autobahn_js.py.
//
// Usage: node interop.js URL REALM SERIALIZER      (SERIALIZER: json | msgpack)
//
// Opens two sessions on REALM. B registers com.interop.add2 and com.interop.fail and subscribes to
// com.interop.topic; A calls both procedures and a missing one, and publishes (acknowledged) to the
// topic. Both then leave. Prints one JSON line with the results on stdout.
//
// Exit codes: 0 every check passed; 1 a check failed (message on stderr); 2 the 10 s overall
// timeout expired or the script could not run; 64 bad usage.
//
// autobahn 26.x uses the global WebSocket, which Node >= 22 provides and Node 20 only behind
// --experimental-websocket: on Node 20 the script re-runs itself once with that flag.

'use strict';

const OVERALL_TIMEOUT_MS = 10000;
const SERIALIZER_NAMES = ['json', 'msgpack'];

const argv = process.argv.slice(2);
if (argv.length !== 3 || !SERIALIZER_NAMES.includes(argv[2])) {
  process.stderr.write('usage: node interop.js URL REALM SERIALIZER (SERIALIZER: ' +
    SERIALIZER_NAMES.join(' | ') + ')\n');
  process.exit(64);
}
const [url, realm, serializerName] = argv;

const harness = require('./harness');
const { progress, describe, equal } = harness;

harness.start({ name: 'interop', timeoutMs: OVERALL_TIMEOUT_MS, run });




function makeSerializer(autobahn) {
  return harness.serializer(autobahn, serializerName);
}

// Opens a connection and resolves with {connection, session, details, closed} once joined;
// `closed` resolves with (reason, details) of Connection.onclose.
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
      on_user_error: (err, msg) => {
        // com.interop.fail throws on purpose; autobahn reports every handler exception here
        if (!(err instanceof autobahn.Error && err.error === 'com.interop.error.failed')) {
          process.stderr.write('interop ' + name + ' user error: ' + msg + ' ' + describe(err) + '\n');
        }
      },
      on_internal_error: (err, msg) => process.stderr.write('interop ' + name + ' internal error: ' + msg + ' ' + describe(err) + '\n'),
    });
    connection.onopen = (session, details) => {
      joined = true;
      resolve({ connection, session, details, closed });
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

// Resolves with the outcome of a call: {result} or {error, args, kwargs}.
function outcome(promise) {
  return Promise.resolve(promise).then(
    (result) => ({ result }),
    (err) => ({ error: err && err.error, args: err && err.args, kwargs: err && err.kwargs }),
  );
}

async function run(autobahn) {
  progress.stage = 'opening session A';
  const a = await open(autobahn, 'A');
  progress.stage = 'opening session B';
  const b = await open(autobahn, 'B');
  const sessionIds = [a.session.id, b.session.id];

  let resolveEvent;
  const firstEvent = new Promise((r) => { resolveEvent = r; });
  const events = [];

  progress.stage = 'registering and subscribing with B';
  await b.session.register('com.interop.add2', (args) => args[0] + args[1]);
  await b.session.register('com.interop.fail', () => {
    throw new autobahn.Error('com.interop.error.failed', ['x'], { code: 7 });
  });
  await b.session.subscribe('com.interop.topic', (args, kwargs) => {
    events.push({ args, kwargs });
    resolveEvent();
  });

  progress.stage = 'calling from A';
  const add2 = await outcome(a.session.call('com.interop.add2', [2, 3]));
  const fail = await outcome(a.session.call('com.interop.fail'));
  const missing = await outcome(a.session.call('com.interop.missing'));

  progress.stage = 'publishing from A';
  const publication = await outcome(a.session.publish('com.interop.topic', [1, 2], { k: 'v' }, { acknowledge: true }));
  progress.stage = 'waiting for the event at B';
  await firstEvent;
  // allow a duplicate delivery to show up before judging "exactly one event"
  await new Promise((r) => setTimeout(r, 200));

  const results = {
    autobahn: autobahn.version,
    node: process.version,
    serializer: serializerName,
    protocol: a.details.transport && a.details.transport.protocol,
    session_ids: sessionIds,
    add2,
    fail,
    missing,
    publication: publication.error
      ? publication
      : { acknowledged: true, id: publication.result && publication.result.id },
    events,
  };

  progress.stage = 'leaving';
  a.connection.close();
  b.connection.close();
  const [aClosed, bClosed] = await Promise.all([a.closed, b.closed]);
  results.left = [aClosed, bClosed].map(({ reason, details }) => ({
    reason,
    session_reason: details && details.reason,
  }));

  const cleanLeave = (left) => left.reason === 'closed' && left.session_reason === 'wamp.close.goodbye_and_out';
  results.checks = {
    joined: sessionIds.every((id) => Number.isInteger(id) && id > 0) && sessionIds[0] !== sessionIds[1],
    add2: add2.result === 5 && add2.error === undefined,
    fail: fail.error === 'com.interop.error.failed' && equal(fail.args, ['x']) && equal(fail.kwargs, { code: 7 }),
    missing: missing.error === 'wamp.error.no_such_procedure',
    publish_acknowledged: !publication.error && publication.result !== undefined &&
      typeof publication.result.id === 'number' && publication.result.id > 0,
    event: events.length === 1 && equal(events[0].args, [1, 2]) && equal(events[0].kwargs, { k: 'v' }),
    left_cleanly: results.left.every(cleanLeave),
  };
  return results;
}
