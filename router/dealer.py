"""
The dealer: registrations and the routing of calls to callees and results back (sans-IO).

Each method takes the acting peer and its message and returns the deliveries it causes.
"""

from autobahn.wamp.message import (
    Call,
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
from router.errors import ProtocolViolation
from router.ids import SequentialIds
from router.matching import UriIndex
from router.peer import Peer
from router.replies import Deliveries, error_for
from router.uri import MATCH_EXACT, is_reserved, is_valid_uri

INVOKE_SINGLE = "single"


class Registration:
    """
    A procedure or procedure pattern with the callee serving it.
    """

    __slots__ = ("id", "uri", "match", "invoke", "callees")

    def __init__(self, registration_id: int, uri: str, match: str, invoke: str) -> None:
        self.id = registration_id
        self.uri = uri
        self.match = match
        self.invoke = invoke
        self.callees: list[Peer] = []


class PendingCall:
    """
    A call routed to a callee and not yet answered.
    """

    __slots__ = ("caller", "call_request", "callee", "invocation_request", "progressive")

    def __init__(
        self, caller: Peer, call_request: int, callee: Peer, invocation_request: int, progressive: bool
    ) -> None:
        self.caller = caller
        self.call_request = call_request
        self.callee = callee
        self.invocation_request = invocation_request
        #: the caller asked for progressive results and the callee may send them
        self.progressive = progressive


class Dealer:
    """
    RPC routing for one realm.

    :param registration_ids: Router-scope id source for new registrations.
    :param strict_uri: Apply the strict URI rule.
    """

    def __init__(self, registration_ids: SequentialIds, strict_uri: bool = False) -> None:
        self._registration_ids = registration_ids
        self._strict_uri = strict_uri
        self._index: UriIndex[Registration] = UriIndex()
        self._by_id: dict[int, Registration] = {}

    def registration(self, registration_id: int) -> Registration | None:
        """
        The registration with this id, if it exists.
        """
        return self._by_id.get(registration_id)

    def register(self, peer: Peer, msg: Register) -> Deliveries:
        """
        Register ``peer`` as the callee of a procedure; a procedure has one callee.
        """
        match = msg.match or MATCH_EXACT
        if is_reserved(msg.procedure) or not is_valid_uri(msg.procedure, match, self._strict_uri):
            return [(peer, error_for(msg, uris.INVALID_URI, "invalid procedure URI {!r}".format(msg.procedure)))]
        if self._index.get(match, msg.procedure) is not None:
            return [(peer, error_for(msg, uris.PROCEDURE_ALREADY_EXISTS))]
        registration = Registration(self._registration_ids.next(), msg.procedure, match, INVOKE_SINGLE)
        registration.callees.append(peer)
        self._index.add(match, msg.procedure, registration)
        self._by_id[registration.id] = registration
        peer.registrations.add(registration.id)
        return [(peer, Registered(msg.request, registration.id))]

    def unregister(self, peer: Peer, msg: Unregister) -> Deliveries:
        """
        Remove a registration ``peer`` holds. Calls already routed to it still complete.
        """
        if msg.registration not in peer.registrations:
            return [(peer, error_for(msg, uris.NO_SUCH_REGISTRATION))]
        self._drop_callee(peer, self._by_id[msg.registration])
        return [(peer, Unregistered(msg.request))]

    def call(self, peer: Peer, msg: Call) -> Deliveries:
        """
        Route a CALL to the callee as an INVOCATION carrying a request id of the callee's session.
        """
        if not is_valid_uri(msg.procedure, MATCH_EXACT, self._strict_uri):
            return [(peer, error_for(msg, uris.INVALID_URI, "invalid procedure URI {!r}".format(msg.procedure)))]
        registration = self._index.best(msg.procedure)
        if registration is None:
            return [(peer, error_for(msg, uris.NO_SUCH_PROCEDURE, "no callee registered for {!r}".format(msg.procedure)))]
        callee = registration.callees[0]
        progressive = bool(msg.receive_progress) and callee.has_feature("callee", "progressive_call_results")
        invocation_request = callee.request_ids.next()
        pending = PendingCall(peer, msg.request, callee, invocation_request, progressive)
        callee.invocations[invocation_request] = pending
        peer.calls[msg.request] = pending
        invocation = Invocation(
            invocation_request,
            registration.id,
            args=msg.args,
            kwargs=msg.kwargs,
            payload=msg.payload,
            receive_progress=True if progressive else None,
            procedure=msg.procedure if registration.match != MATCH_EXACT else None,
            enc_algo=msg.enc_algo,
            enc_key=msg.enc_key,
            enc_serializer=msg.enc_serializer,
        )
        return [(callee, invocation)]

    def yield_(self, peer: Peer, msg: Yield) -> Deliveries:
        """
        Relay a callee's YIELD to the caller as RESULT (progressive results keep the call open).
        """
        pending = self._answered(peer, msg.request)
        if pending is None:
            return []
        progress = bool(msg.progress) and pending.progressive
        if not progress:
            self._finish(pending)
        result = Result(
            pending.call_request,
            args=msg.args,
            kwargs=msg.kwargs,
            payload=msg.payload,
            progress=True if progress else None,
            enc_algo=msg.enc_algo,
            enc_key=msg.enc_key,
            enc_serializer=msg.enc_serializer,
        )
        return [(pending.caller, result)]

    def error(self, peer: Peer, msg: Error) -> Deliveries:
        """
        Relay a callee's ERROR for an invocation to the caller, with its URI, args and kwargs.
        """
        pending = self._answered(peer, msg.request)
        if pending is None:
            return []
        self._finish(pending)
        error = Error(
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
        return [(pending.caller, error)]

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
        self._finish(pending)
        out: Deliveries = [(pending.caller, Error(Call.MESSAGE_TYPE, pending.call_request, uris.PAYLOAD_SIZE_EXCEEDED,
                                                  args=["a message of this call is larger than its receiver accepts"]))]
        if not isinstance(msg, Invocation) and pending.callee.has_feature("callee", "call_canceling"):
            out.append((pending.callee, Interrupt(pending.invocation_request, mode=Interrupt.KILLNOWAIT,
                                                  reason=uris.PAYLOAD_SIZE_EXCEEDED)))
        return out

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

    def _drop_callee(self, peer: Peer, registration: Registration) -> None:
        registration.callees.remove(peer)
        peer.registrations.discard(registration.id)
        if not registration.callees:
            self._index.remove(registration.match, registration.uri)
            del self._by_id[registration.id]


__all__ = ["Dealer", "Registration", "PendingCall"]
