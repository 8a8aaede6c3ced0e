"""
The dealer: registrations and the routing of calls to callees and results back (sans-IO).

Each method takes the acting peer and its message and returns the deliveries it causes. Changes
to registrations are appended to ``observations`` for the meta API; deliveries that arise from a
timer (call timeouts) go out through ``emit``.
"""

import random
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from autobahn.wamp.message import (
    Call,
    Cancel,
    Error,
    Interrupt,
    Invocation,
    Register,
    Registered,
    Result,
    Unregister,
    Unregistered,
    Yield,
)

from router import uris
from router.codec import options_of
from router.errors import ProtocolViolation
from router.ids import SequentialIds
from router.matching import UriIndex
from router.passthru import PassthruError, PassthruInvocation, PassthruResult, ppt_options
from router.peer import Peer
from router.replies import Deliveries, error_for
from router.uri import MATCH_EXACT, MATCH_POLICIES, is_reserved, is_valid_uri

INVOKE_SINGLE = "single"
INVOKE_ROUNDROBIN = "roundrobin"
INVOKE_RANDOM = "random"
INVOKE_FIRST = "first"
INVOKE_LAST = "last"

CANCEL_SKIP = "skip"
CANCEL_KILL = "kill"
CANCEL_KILLNOWAIT = "killnowait"


class Registration:
    """
    A procedure or procedure pattern with the callees serving it, in registration order.
    """

    __slots__ = ("id", "uri", "match", "invoke", "created", "callees", "disclose_caller", "forward_timeout", "_next")

    def __init__(self, registration_id: int, uri: str, match: str, invoke: str, created: str,
                 disclose_caller: bool = False, forward_timeout: bool = False) -> None:
        self.id = registration_id
        self.uri = uri
        self.match = match
        self.invoke = invoke
        #: ISO 8601 time of creation
        self.created = created
        self.callees: list[Peer] = []
        self.disclose_caller = disclose_caller
        self.forward_timeout = forward_timeout
        self._next = 0

    def details(self) -> dict[str, Any]:
        """
        The registration as the meta API describes it.
        """
        return {"id": self.id, "created": self.created, "uri": self.uri, "match": self.match, "invoke": self.invoke}

    def pick(self) -> Peer:
        """
        The callee the invocation policy chooses for the next call.
        """
        callees = self.callees
        if self.invoke == INVOKE_ROUNDROBIN:
            self._next %= len(callees)
            callee = callees[self._next]
            self._next += 1
            return callee
        if self.invoke == INVOKE_RANDOM:
            return random.choice(callees)
        if self.invoke == INVOKE_LAST:
            return callees[-1]
        return callees[0]


class PendingCall:
    """
    A call routed to a callee and not yet answered.
    """

    __slots__ = ("caller", "call_request", "callee", "invocation_request", "registration", "progressive",
                 "timer", "streaming", "canceled")

    def __init__(self, caller: Peer, call_request: int, callee: Peer, invocation_request: int,
                 registration: Registration, progressive: bool) -> None:
        self.caller = caller
        self.call_request = call_request
        self.callee = callee
        self.invocation_request = invocation_request
        self.registration = registration
        #: the caller asked for progressive results and the callee may send them
        self.progressive = progressive
        #: the dealer's timeout timer, if it runs one
        self.timer: Any = None
        #: the caller is still sending progressive invocation chunks
        self.streaming = False
        #: a CANCEL in kill mode was forwarded; the callee's answer ends the call
        self.canceled = False


def _iso_now(clock: Any) -> str:
    seconds = clock.seconds() if clock is not None else datetime.now(timezone.utc).timestamp()
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Dealer:
    """
    RPC routing for one realm.

    :param registration_ids: Router-scope id source for new registrations.
    :param strict_uri: Apply the strict URI rule.
    :param observations: Where registration changes are recorded for the meta API.
    :param clock: ``callLater()`` and ``seconds()``: runs call timeouts.
    :param emit: Sends deliveries that a timer produces.
    :param disclose_caller: Disclose every caller to callees.
    """

    def __init__(
        self,
        registration_ids: SequentialIds,
        strict_uri: bool = False,
        observations: list[tuple[str, Peer, Any]] | None = None,
        clock: Any = None,
        emit: Callable[[Deliveries], None] | None = None,
        disclose_caller: bool = False,
    ) -> None:
        self._registration_ids = registration_ids
        self._strict_uri = strict_uri
        self.observations = observations if observations is not None else []
        self._clock = clock
        self._emit = emit
        self._disclose_caller = disclose_caller
        self._index: UriIndex[Registration] = UriIndex()
        self._by_id: dict[int, Registration] = {}

    # lookups (meta API)

    def registration(self, registration_id: int) -> Registration | None:
        """
        The registration with this id, if it exists.
        """
        return self._by_id.get(registration_id)

    def registrations(self) -> Iterator[Registration]:
        """
        Every registration.
        """
        return iter(self._by_id.values())

    def lookup(self, uri: str, match: str = MATCH_EXACT) -> Registration | None:
        """
        The registration for exactly this URI (or pattern) and match policy.
        """
        return self._index.get(match, uri) if match in MATCH_POLICIES else None

    def best(self, uri: str) -> Registration | None:
        """
        The registration a call to ``uri`` would be routed to.
        """
        return self._index.best(uri)

    # client requests

    def register(self, peer: Peer, msg: Register) -> Deliveries:
        """
        Add ``peer`` as a callee of a procedure. The first registration's invocation policy rules:
        ``single`` refuses any second callee, other policies refuse a registration asking another.
        """
        match = msg.match or MATCH_EXACT
        if is_reserved(msg.procedure) or not is_valid_uri(msg.procedure, match, self._strict_uri):
            return [(peer, error_for(msg, uris.INVALID_URI, "invalid procedure URI {!r}".format(msg.procedure)))]
        invoke = msg.invoke or INVOKE_SINGLE
        registration = self._index.get(match, msg.procedure)
        if registration is not None:
            if registration.invoke == INVOKE_SINGLE or invoke == INVOKE_SINGLE or peer in registration.callees:
                return [(peer, error_for(msg, uris.PROCEDURE_ALREADY_EXISTS))]
            if invoke != registration.invoke:
                return [(peer, error_for(msg, uris.PROCEDURE_EXISTS_INVOCATION_POLICY_CONFLICT,
                                         "registered with invocation policy {!r}".format(registration.invoke)))]
        else:
            options = options_of(msg)
            registration = Registration(self._registration_ids.next(), msg.procedure, match, invoke,
                                        _iso_now(self._clock), disclose_caller=bool(options.get("disclose_caller")),
                                        forward_timeout=bool(options.get("forward_timeout")))
            self._index.add(match, msg.procedure, registration)
            self._by_id[registration.id] = registration
            self.observations.append((uris.REGISTRATION_ON_CREATE, peer, registration))
        registration.callees.append(peer)
        peer.registrations.add(registration.id)
        self.observations.append((uris.REGISTRATION_ON_REGISTER, peer, registration))
        return [(peer, Registered(msg.request, registration.id))]

    def unregister(self, peer: Peer, msg: Unregister) -> Deliveries:
        """
        Remove a registration ``peer`` holds. Calls already routed to it still complete.
        """
        if msg.registration not in peer.registrations:
            return [(peer, error_for(msg, uris.NO_SUCH_REGISTRATION))]
        self._drop_callee(peer, self._by_id[msg.registration])
        return [(peer, Unregistered(msg.request))]

    def call(self, peer: Peer, msg: Call, disclose: bool = False) -> Deliveries:
        """
        Route a CALL to a callee as an INVOCATION carrying a request id of the callee's session.
        A CALL with ``progress`` continues (or starts) a progressive call invocation. The caller is
        disclosed when it asked, when ``disclose``, or when the registration or realm says so.
        """
        options = options_of(msg)
        pending = peer.calls.get(msg.request)
        if pending is not None:
            return self._next_chunk(pending, msg, bool(options.get("progress")))
        if not is_valid_uri(msg.procedure, MATCH_EXACT, self._strict_uri):
            return [(peer, error_for(msg, uris.INVALID_URI, "invalid procedure URI {!r}".format(msg.procedure)))]
        registration = self._index.best(msg.procedure)
        if registration is None:
            return [(peer, error_for(msg, uris.NO_SUCH_PROCEDURE, "no callee registered for {!r}".format(msg.procedure)))]
        callee = registration.pick()
        streaming = bool(options.get("progress"))
        if streaming and not callee.has_feature("callee", "progressive_call_invocations"):
            return [(peer, error_for(msg, uris.FEATURE_NOT_SUPPORTED,
                                     "the callee does not accept progressive call invocations"))]
        ppt = ppt_options(msg, peer)
        if ppt and not callee.has_feature("callee", "payload_passthru_mode"):
            return [(peer, error_for(msg, uris.FEATURE_NOT_SUPPORTED,
                                     "the callee does not accept payload passthru mode"))]
        progressive = bool(msg.receive_progress) and callee.has_feature("callee", "progressive_call_results")
        pending = PendingCall(peer, msg.request, callee, callee.request_ids.next(), registration, progressive)
        pending.streaming = streaming
        callee.invocations[pending.invocation_request] = pending
        peer.calls[msg.request] = pending
        timeout = msg.timeout or 0
        forward_timeout = registration.forward_timeout and timeout > 0
        if timeout > 0 and not forward_timeout and self._clock is not None:
            pending.timer = self._clock.callLater(timeout / 1000.0, self._expire, pending)
        disclose = (disclose or self._disclose_caller or registration.disclose_caller
                    or bool(options.get("disclose_me")))
        extra = dict(ppt or {}, progress=True) if streaming else ppt
        invocation = (PassthruInvocation if extra else Invocation)(
            pending.invocation_request,
            registration.id,
            args=msg.args,
            kwargs=msg.kwargs,
            payload=msg.payload,
            timeout=timeout if forward_timeout else None,
            receive_progress=True if progressive else None,
            caller=peer.session_id if disclose else None,
            caller_authid=peer.authid if disclose else None,
            caller_authrole=peer.authrole if disclose else None,
            procedure=msg.procedure if registration.match != MATCH_EXACT else None,
            enc_algo=msg.enc_algo,
            enc_key=msg.enc_key,
            enc_serializer=msg.enc_serializer,
        )
        invocation._router_internal = extra
        return [(callee, invocation)]

    def cancel(self, peer: Peer, msg: Cancel) -> Deliveries:
        """
        Cancel a pending call: ``skip`` answers the caller now and drops the callee's late answer,
        ``kill`` interrupts the callee and waits for its answer, ``killnowait`` does both at once.
        A callee that did not announce ``call_canceling`` is always treated as ``skip``. Canceling a
        call already answered does nothing.
        """
        pending = peer.calls.get(msg.request)
        if pending is None or pending.canceled:
            return []
        mode = msg.mode or CANCEL_KILLNOWAIT
        if not pending.callee.has_feature("callee", "call_canceling"):
            mode = CANCEL_SKIP
        if mode == CANCEL_KILL:
            pending.canceled = True
            return [(pending.callee, Interrupt(pending.invocation_request, mode=Interrupt.KILL, reason=uris.CANCELED))]
        return self._abandon(pending, uris.CANCELED, "the call was canceled", mode == CANCEL_KILLNOWAIT)

    def yield_(self, peer: Peer, msg: Yield) -> Deliveries:
        """
        Relay a callee's YIELD to the caller as RESULT (progressive results keep the call open).
        """
        pending = self._answered(peer, msg.request)
        if pending is None:
            return []
        ppt = ppt_options(msg, peer)
        if ppt and not pending.caller.has_feature("caller", "payload_passthru_mode"):
            return self._passthru_refused(pending)
        progress = bool(msg.progress) and pending.progressive
        if not progress:
            self._finish(pending)
        result = (PassthruResult if ppt else Result)(
            pending.call_request,
            args=msg.args,
            kwargs=msg.kwargs,
            payload=msg.payload,
            progress=True if progress else None,
            enc_algo=msg.enc_algo,
            enc_key=msg.enc_key,
            enc_serializer=msg.enc_serializer,
        )
        result._router_internal = ppt
        return [(pending.caller, result)]

    def error(self, peer: Peer, msg: Error) -> Deliveries:
        """
        Relay a callee's ERROR for an invocation to the caller, with its URI, args and kwargs.
        """
        pending = self._answered(peer, msg.request)
        if pending is None:
            return []
        ppt = ppt_options(msg, peer)
        if ppt and not pending.caller.has_feature("caller", "payload_passthru_mode"):
            return self._passthru_refused(pending)
        self._finish(pending)
        error = (PassthruError if ppt else Error)(
            Call.MESSAGE_TYPE,
            pending.call_request,
            msg.error,
            args=msg.args,
            kwargs=msg.kwargs,
            payload=msg.payload,
            enc_algo=msg.enc_algo,
            enc_key=msg.enc_key,
            enc_serializer=msg.enc_serializer,
        )
        error._router_internal = ppt
        return [(pending.caller, error)]

    # router requests

    def remove_callee(self, peer: Peer, registration_id: int, reason: str | None = None) -> Deliveries:
        """
        Take ``peer`` off a registration; a callee that announced ``registration_revocation`` is
        told with ``UNREGISTERED(0, {registration, reason})``.
        """
        registration = self._by_id.get(registration_id)
        if registration is None or peer not in registration.callees:
            return []
        self._drop_callee(peer, registration)
        if peer.has_feature("callee", "registration_revocation"):
            return [(peer, Unregistered(0, registration=registration_id, reason=reason))]
        return []

    def undeliverable(self, peer: Peer, msg: Invocation | Result | Error) -> Deliveries:
        """
        ``msg`` was too large for ``peer``'s transport: the call it belongs to ends with ERROR
        ``wamp.error.payload_size_exceeded`` to the caller (a callee that can cancel is interrupted).
        """
        if isinstance(msg, Invocation):
            pending = peer.invocations.get(msg.request)
        else:
            pending = peer.calls.get(msg.request)
            final = (isinstance(msg, Result) and not msg.progress) or (
                isinstance(msg, Error) and msg.request_type == Call.MESSAGE_TYPE)
            if pending is None and final:
                # the final answer already ended the call: answer the caller in its place
                return [(peer, Error(Call.MESSAGE_TYPE, msg.request, uris.PAYLOAD_SIZE_EXCEEDED,
                                     args=["the result is larger than this session accepts"]))]
        if pending is None:
            return []
        interrupt = not isinstance(msg, Invocation) and pending.callee.has_feature("callee", "call_canceling")
        return self._abandon(pending, uris.PAYLOAD_SIZE_EXCEEDED,
                             "a message of this call is larger than its receiver accepts", interrupt)

    def detach(self, peer: Peer) -> Deliveries:
        """
        Clean up after a session that left: its registrations go, its callers get ERROR canceled,
        and calls it made are dropped (a callee that can cancel is told with INTERRUPT killnowait).
        """
        out: Deliveries = []
        for registration_id in list(peer.registrations):
            self._drop_callee(peer, self._by_id[registration_id])
        for pending in list(peer.invocations.values()):
            self._finish(pending)
            out.append((pending.caller, Error(Call.MESSAGE_TYPE, pending.call_request, uris.CANCELED,
                                               args=["callee left the realm"])))
        for pending in list(peer.calls.values()):
            self._finish(pending)
            if pending.callee.has_feature("callee", "call_canceling"):
                out.append((pending.callee, Interrupt(pending.invocation_request, mode=Interrupt.KILLNOWAIT,
                                                      reason=uris.CANCELED)))
        return out

    # internals

    def _next_chunk(self, pending: PendingCall, msg: Call, progress: bool) -> Deliveries:
        """
        A further CALL with the request id of a pending call: the next chunk of a progressive call
        invocation, routed to the same callee and invocation. Chunks after the last are dropped.
        """
        if not pending.streaming:
            raise ProtocolViolation("CALL reuses request id {} of a call in progress".format(msg.request))
        pending.streaming = progress
        invocation = PassthruInvocation(pending.invocation_request, pending.registration.id,
                                        args=msg.args, kwargs=msg.kwargs, payload=msg.payload)
        extra = dict(ppt_options(msg, pending.caller) or {})
        if progress:
            extra["progress"] = True
        invocation._router_internal = extra
        return [(pending.callee, invocation)]

    def _passthru_refused(self, pending: PendingCall) -> Deliveries:
        """
        A callee answered in payload passthru mode to a caller that did not announce it: both are
        told ``feature_not_supported`` and the call ends.
        """
        self._finish(pending)
        text = "the caller does not accept payload passthru mode"
        return [
            (pending.callee, Error(Invocation.MESSAGE_TYPE, pending.invocation_request, uris.FEATURE_NOT_SUPPORTED,
                                   args=[text])),
            (pending.caller, Error(Call.MESSAGE_TYPE, pending.call_request, uris.FEATURE_NOT_SUPPORTED, args=[text])),
        ]

    def _expire(self, pending: PendingCall) -> None:
        pending.timer = None
        if pending.caller.calls.get(pending.call_request) is not pending:
            return
        interrupt = pending.callee.has_feature("callee", "call_canceling")
        out = self._abandon(pending, uris.TIMEOUT, "the call timed out", interrupt)
        if self._emit is not None:
            self._emit(out)

    def _abandon(self, pending: PendingCall, error_uri: str, text: str, interrupt: bool) -> Deliveries:
        """
        End a call now: ERROR ``error_uri`` to the caller, INTERRUPT killnowait to the callee if
        asked; the callee's late answer is dropped.
        """
        self._finish(pending)
        out: Deliveries = [(pending.caller, Error(Call.MESSAGE_TYPE, pending.call_request, error_uri, args=[text]))]
        if interrupt:
            out.append((pending.callee, Interrupt(pending.invocation_request, mode=Interrupt.KILLNOWAIT,
                                                  reason=error_uri)))
        return out

    def _answered(self, peer: Peer, invocation_request: int) -> PendingCall | None:
        """
        The pending call a callee's YIELD or ERROR answers; ``None`` for a late answer to a call that
        already ended. An id the router never sent is a protocol violation.
        """
        pending = peer.invocations.get(invocation_request)
        if pending is None and not 0 < invocation_request <= peer.request_ids.last:
            raise ProtocolViolation("answer to invocation {} that was never sent".format(invocation_request))
        return pending

    def _finish(self, pending: PendingCall) -> None:
        pending.callee.invocations.pop(pending.invocation_request, None)
        pending.caller.calls.pop(pending.call_request, None)
        if pending.timer is not None:
            if pending.timer.active():
                pending.timer.cancel()
            pending.timer = None

    def _drop_callee(self, peer: Peer, registration: Registration) -> None:
        registration.callees.remove(peer)
        peer.registrations.discard(registration.id)
        self.observations.append((uris.REGISTRATION_ON_UNREGISTER, peer, registration))
        if not registration.callees:
            self._index.remove(registration.match, registration.uri)
            del self._by_id[registration.id]
            self.observations.append((uris.REGISTRATION_ON_DELETE, peer, registration))


__all__ = ["Dealer", "Registration", "PendingCall"]
