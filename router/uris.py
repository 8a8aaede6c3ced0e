"""
Every WAMP URI the router emits: error URIs and close reasons.

Code elsewhere names these constants and never spells a ``wamp.`` URI inline.
"""

# Basic Profile errors
INVALID_URI = "wamp.error.invalid_uri"
NO_SUCH_PROCEDURE = "wamp.error.no_such_procedure"
PROCEDURE_ALREADY_EXISTS = "wamp.error.procedure_already_exists"
NO_SUCH_REGISTRATION = "wamp.error.no_such_registration"
NO_SUCH_SUBSCRIPTION = "wamp.error.no_such_subscription"
INVALID_ARGUMENT = "wamp.error.invalid_argument"
CANCELED = "wamp.error.canceled"
PAYLOAD_SIZE_EXCEEDED = "wamp.error.payload_size_exceeded"
PROTOCOL_VIOLATION = "wamp.error.protocol_violation"
NOT_AUTHORIZED = "wamp.error.not_authorized"
AUTHORIZATION_FAILED = "wamp.error.authorization_failed"
NO_SUCH_REALM = "wamp.error.no_such_realm"
NO_SUCH_ROLE = "wamp.error.no_such_role"

# Advanced Profile errors
NO_MATCHING_AUTH_METHOD = "wamp.error.no_matching_auth_method"
AUTHENTICATION_FAILED = "wamp.error.authentication_failed"
AUTHENTICATION_DENIED = "wamp.error.authentication_denied"
NO_SUCH_PRINCIPAL = "wamp.error.no_such_principal"
OPTION_NOT_ALLOWED = "wamp.error.option_not_allowed"
FEATURE_NOT_SUPPORTED = "wamp.error.feature_not_supported"

#: wampd's own: a session whose client stopped reading was closed (no spec URI exists for this)
SLOW_CONSUMER = "wampd.error.slow_consumer"

# Close reasons
CLOSE_SYSTEM_SHUTDOWN = "wamp.close.system_shutdown"
CLOSE_REALM = "wamp.close.close_realm"
CLOSE_GOODBYE_AND_OUT = "wamp.close.goodbye_and_out"
CLOSE_NORMAL = "wamp.close.normal"
CLOSE_KILLED = "wamp.close.killed"

#: Prefix reserved for the router: clients may not register or publish below it.
RESERVED_PREFIX = "wamp."

# Advanced Profile errors for the dealer and the meta API
TIMEOUT = "wamp.error.timeout"
NO_SUCH_SESSION = "wamp.error.no_such_session"
NO_AVAILABLE_CALLEE = "wamp.error.no_available_callee"
OPTION_DISALLOWED_DISCLOSE_ME = "wamp.error.option_disallowed.disclose_me"
#: a shared registration asked for another invocation policy than the existing one (Bondy's URI)
PROCEDURE_EXISTS_INVOCATION_POLICY_CONFLICT = "wamp.error.procedure_exists_invocation_policy_conflict"

# Meta API events
SESSION_ON_JOIN = "wamp.session.on_join"
SESSION_ON_LEAVE = "wamp.session.on_leave"
SUBSCRIPTION_ON_CREATE = "wamp.subscription.on_create"
SUBSCRIPTION_ON_SUBSCRIBE = "wamp.subscription.on_subscribe"
SUBSCRIPTION_ON_UNSUBSCRIBE = "wamp.subscription.on_unsubscribe"
SUBSCRIPTION_ON_DELETE = "wamp.subscription.on_delete"
REGISTRATION_ON_CREATE = "wamp.registration.on_create"
REGISTRATION_ON_REGISTER = "wamp.registration.on_register"
REGISTRATION_ON_UNREGISTER = "wamp.registration.on_unregister"
REGISTRATION_ON_DELETE = "wamp.registration.on_delete"
