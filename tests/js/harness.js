// What the interop scripts share: running under Node 20 (re-exec with --experimental-websocket,
// since autobahn 26 uses the global WebSocket), an overall timeout naming the stage reached, one
// JSON line of results on stdout, and exit codes (0 ok, 1 failed check or error, 2 timeout or
// cannot run, 64 bad usage -- the last decided by each script).

'use strict';

// what the script is doing, for the timeout message: scripts set progress.stage as they go
const progress = { stage: 'starting' };

// Run `run(autobahn)` (a promise of results) with the overall timeout. With `judgeChecks`, any
// false entry in results.checks makes the exit code 1.
function start({ name, timeoutMs, run, judgeChecks = true }) {
  if (typeof globalThis.WebSocket !== 'function') {
    reexecWithWebSocket(name, timeoutMs);
    return;
  }
  const autobahn = require('autobahn');
  const timer = setTimeout(() => {
    process.stderr.write(name + ': timed out after ' + timeoutMs / 1000 + ' s while ' + progress.stage + '\n');
    process.exit(2);
  }, timeoutMs);
  run(autobahn).then(
    (results) => {
      clearTimeout(timer);
      process.stdout.write(JSON.stringify(results) + '\n');
      if (judgeChecks) {
        const failed = Object.entries(results.checks).filter(([, ok]) => !ok).map(([check]) => check);
        if (failed.length > 0) {
          process.stderr.write(name + ': failed checks: ' + failed.join(', ') + '\n');
          process.exitCode = 1;
        }
      }
      process.exit();
    },
    (err) => {
      clearTimeout(timer);
      process.stderr.write(name + ': ' + describe(err) + '\n');
      process.exit(1);
    },
  );
}

function reexecWithWebSocket(name, timeoutMs) {
  if (process.env.WAMPD_INTEROP_REEXEC) {
    process.stderr.write(name + ': no global WebSocket even with --experimental-websocket (node ' +
      process.version + '); autobahn 26 needs Node >= 22 or Node 20 >= 20.10\n');
    process.exit(2);
  }
  const { spawnSync } = require('child_process');
  const script = require.main.filename;
  const child = spawnSync(
    process.execPath,
    ['--experimental-websocket', '--no-warnings=ExperimentalWarning', ...process.execArgv, script,
      ...process.argv.slice(2)],
    {
      stdio: 'inherit',
      env: { ...process.env, WAMPD_INTEROP_REEXEC: '1' },
      timeout: timeoutMs + 2000,
      killSignal: 'SIGKILL',
    },
  );
  if (child.error) {
    process.stderr.write(name + ': re-running node with --experimental-websocket failed: ' + child.error.message + '\n');
    process.exit(2);
  }
  process.exit(child.status === null ? 2 : child.status);
}

function describe(value) {
  if (value instanceof Error && value.stack) {
    return value.stack;
  }
  if (value && typeof value === 'object') {
    try {
      return JSON.stringify(value);
    } catch (e) {
      // fall through
    }
  }
  return String(value);
}

// Deep equality for JSON-like values (arrays, plain objects, primitives; undefined counts as null).
function equal(a, b) {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value) {
  if (Array.isArray(value)) {
    return value.map(canonical);
  }
  if (value && typeof value === 'object') {
    const out = {};
    for (const key of Object.keys(value).sort()) {
      out[key] = canonical(value[key]);
    }
    return out;
  }
  return value === undefined ? null : value;
}

// The AutobahnJS serializer named on the command line ('json' or 'msgpack').
function serializer(autobahn, name) {
  if (name === 'msgpack') {
    if (typeof autobahn.serializer.MsgpackSerializer !== 'function') {
      throw new Error('autobahn.serializer.MsgpackSerializer is not available');
    }
    return new autobahn.serializer.MsgpackSerializer();
  }
  return new autobahn.serializer.JSONSerializer();
}

module.exports = { progress, start, describe, equal, canonical, serializer };
