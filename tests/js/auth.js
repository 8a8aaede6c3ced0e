// AutobahnJS <-> wampd authentication interop, driven by tests/integration/test_autobahn_js_auth.py.
//
// Usage: node auth.js URL REALM SCENARIO [SEED]
//
// URL is ws://HOST:PORT/PATH, or wss://HOST:PORT/PATH for a TLS listener: the router's certificate
// is verified as usual, so a certificate no public CA signed (wampd's development certificate) must
// be trusted through the environment, NODE_EXTRA_CA_CERTS=/path/to/cert.pem (read at start-up by
// Node, and used by Node 20's undici-based WebSocket too).
//
// Scenarios (the principals are configured by tests/integration/test_auth.py):
//   ticket          authid joe, ticket s3cret
//   wrong-ticket    authid joe, a wrong ticket (the router must refuse it)
//   wampcra         authid peter, WAMP-CRA with the plain secret (autobahn.auth_cra.sign)
//   wampcra-salted  authid salty, WAMP-CRA with the key derived from the challenge's salt
//                   (autobahn.auth_cra.derive_key)
//   cryptosign      authid alice, the Ed25519 key whose 32-byte seed is SEED (hex), signed with
//                   autobahn.auth_cryptosign.sign_challenge
//
// A wss:// opening handshake Node refuses (an untrusted certificate, say) ends the scenario
// unjoined with `websocket_error` set: Node 20's WebSocket (undici) fires only an error event then,
// no close event (nodejs/undici#3546), so autobahn's Connection would never call onclose.
//
// Opens one JSON-serialized session with these credentials. Once joined, it calls
// wamp.session.count (a probe of the role's permissions) and leaves. Prints one JSON line on
// stdout: {scenario, url, joined, challenges, details, probe, close, websocket_error}; `close` holds
// Connection.onclose's reason and the session's close reason and message (the ABORT's, when
// refused; all null when autobahn reported no close), `websocket_error` the message of a WebSocket
// error before the connection opened (else null). Judging the outcome is left to the test.
//
// Exit codes: 0 the scenario ran to its end (joined or refused); 1 the script failed; 2 the 10 s
// overall timeout expired or the script could not run; 64 bad usage.
//
// autobahn 26.x uses the global WebSocket, which Node >= 22 provides and Node 20 only behind
// --experimental-websocket: on Node 20 the script re-runs itself once with that flag.

'use strict';

const OVERALL_TIMEOUT_MS = 10000;
const SCENARIOS = ['ticket', 'wrong-ticket', 'wampcra', 'wampcra-salted', 'cryptosign'];

const argv = process.argv.slice(2);
if (argv.length < 3 || argv.length > 4 || !/^wss?:\/\//.test(argv[0]) || !SCENARIOS.includes(argv[2]) ||
    (argv[2] === 'cryptosign' && !/^[0-9a-fA-F]{64}$/.test(argv[3] || ''))) {
  process.stderr.write('usage: node auth.js URL REALM SCENARIO [SEED] (URL: ws:// or wss://; SCENARIO: ' +
    SCENARIOS.join(' | ') + '; cryptosign needs SEED, 32 bytes in hex)\n');
  process.exit(64);
}
const [url, realm, scenario, seedHex] = argv;

const harness = require('./harness');
const { progress, describe, equal } = harness;

harness.start({ name: 'auth', timeoutMs: OVERALL_TIMEOUT_MS, run, judgeChecks: false });


// HELLO credentials and the CHALLENGE answer of a scenario: {authmethods, authid, authextra, respond}
function credentials(autobahn) {
  const ticket = (authid, secret) => ({ authmethods: ['ticket'], authid, respond: () => secret });
  const wampcra = (authid, secret) => ({
    authmethods: ['wampcra'],
    authid,
    respond: (extra) => {
      const key = extra.salt
        ? autobahn.auth_cra.derive_key(secret, extra.salt, extra.iterations, extra.keylen)
        : secret;
      return autobahn.auth_cra.sign(key, extra.challenge);
    },
  });
  switch (scenario) {
    case 'ticket':
      return ticket('joe', 's3cret');
    case 'wrong-ticket':
      return ticket('joe', 'not-the-ticket');
    case 'wampcra':
      return wampcra('peter', 'secret1');
    case 'wampcra-salted':
      return wampcra('salty', 'secret2');
    case 'cryptosign': {
      const seed = Uint8Array.from(Buffer.from(seedHex, 'hex'));
      const pkey = autobahn.nacl.sign.keyPair.fromSeed(seed);
      return {
        authmethods: ['cryptosign'],
        authid: 'alice',
        authextra: { pubkey: autobahn.auth_cryptosign.public_key(pkey) },
        respond: (extra) => autobahn.auth_cryptosign.sign_challenge(pkey, extra),
      };
    }
    default:
      throw new Error('unknown scenario ' + scenario);
  }
}

// Replace the global WebSocket (autobahn looks it up for each connection) by one that calls
// onFailure(message) when a connection fails before it opened.
function watchOpeningFailures(onFailure) {
  const Native = globalThis.WebSocket;
  globalThis.WebSocket = class WatchedWebSocket extends Native {
    constructor(...args) {
      super(...args);
      let opened = false;
      this.addEventListener('open', () => { opened = true; });
      this.addEventListener('error', (event) => {
        if (!opened) {
          onFailure(String(event.message || event.error || 'error event'));
        }
      });
    }
  };
}

// Resolves with the outcome of a call: {result} or {error}.
function outcome(promise) {
  return Promise.resolve(promise).then(
    (result) => ({ result }),
    (err) => ({ error: err && err.error }),
  );
}

async function run(autobahn) {
  const creds = credentials(autobahn);
  const challenges = [];
  let resolveOpened;
  const opened = new Promise((r) => { resolveOpened = r; });
  let resolveClosed;
  const closed = new Promise((r) => { resolveClosed = r; });

  const connection = new autobahn.Connection({
    url,
    realm,
    serializers: [new autobahn.serializer.JSONSerializer()],
    authmethods: creds.authmethods,
    authid: creds.authid,
    authextra: creds.authextra,
    onchallenge: (session, method, extra) => {
      challenges.push({ method, extra_keys: Object.keys(extra || {}).sort() });
      return creds.respond(extra);
    },
    max_retries: 0,
    retry_if_unreachable: false,
    on_user_error: (err, msg) => process.stderr.write('auth user error: ' + msg + ' ' + describe(err) + '\n'),
    on_internal_error: (err, msg) => process.stderr.write('auth internal error: ' + msg + ' ' + describe(err) + '\n'),
  });
  connection.onopen = (session, details) => resolveOpened({ session, details });
  connection.onclose = (reason, details) => {
    resolveClosed({ reason, session_reason: details && details.reason, message: details && details.message });
    resolveOpened(null);
    return true; // never auto-reconnect
  };
  let websocketError = null;
  watchOpeningFailures((message) => {
    websocketError = message;
    // a WebSocket that fires close after the error lets autobahn report it first
    setTimeout(() => {
      resolveClosed({ reason: null, session_reason: null, message: null });
      resolveOpened(null);
    }, 500);
  });

  progress.stage = 'opening the session';
  connection.open();
  const joined = await opened;
  const results = {
    scenario, url, autobahn: autobahn.version, node: process.version, joined: joined !== null, challenges,
  };
  if (joined !== null) {
    const d = joined.details || {};
    results.details = {
      authid: d.authid, authrole: d.authrole, authmethod: d.authmethod, authprovider: d.authprovider,
    };
    progress.stage = 'calling wamp.session.count';
    results.probe = await outcome(joined.session.call('wamp.session.count'));
    progress.stage = 'leaving';
    connection.close();
  }
  progress.stage = 'waiting for the connection to close';
  results.close = await closed;
  results.websocket_error = websocketError;
  return results;
}
