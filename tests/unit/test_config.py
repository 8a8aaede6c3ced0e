"""
Configuration loading and validation: errors name the file and the key path.
"""

import pytest

from router.config import ConfigError, load_config, parse_config
from router.tap import Options


def test_valid_document():
    """A complete document yields realms, router options and listeners."""
    config = parse_config(
        {
            "realms": [{"name": "app", "strict_uri": True}],
            "auto_create_realms": True,
            "listeners": [{"endpoint": "tcp:9000", "type": "rawsocket", "serializers": ["msgpack"],
                           "max_message_size": 65536}],
        },
        "x.yaml",
    )
    assert config.router.realms["app"].strict_uri is True
    assert config.router.auto_create_realms is True
    (listener,) = config.listeners
    assert (listener.type, listener.serializers, listener.max_message_size) == ("rawsocket", ("msgpack",), 65536)


@pytest.mark.parametrize(
    "document, path",
    [
        ({"listeners": [{"endpoint": "tcp:1", "type": "bogus"}]}, "listeners[0].type"),
        ({"listeners": [{"endpoint": "tcp:1"}], "realm": []}, "realm"),
        ({"listeners": [{"endpoint": "tcp:1", "serializers": ["json", "xml"]}]}, "listeners[0].serializers[1]"),
        ({"listeners": [{"endpoint": "tcp:1", "max_message_size": 10}]}, "listeners[0].max_message_size"),
        ({"listeners": [{"type": "universal"}]}, "listeners[0].endpoint"),
        ({"realms": [{"name": "a b"}], "listeners": [{"endpoint": "tcp:1"}]}, "realms[0].name"),
        ({"realms": [{"name": "a"}, {"name": "a"}], "listeners": [{"endpoint": "tcp:1"}]}, "realms[1].name"),
        ({"realms": [], "listeners": []}, "listeners"),
        ({"auto_create_realms": "yes", "listeners": [{"endpoint": "tcp:1"}]}, "auto_create_realms"),
    ],
)
def test_errors_name_key_path(document, path):
    """Each invalid document is refused with the file name and the offending key path in the message."""
    with pytest.raises(ConfigError) as raised:
        parse_config(document, "wampd.yaml")
    assert raised.value.path == path
    assert str(raised.value).startswith("wampd.yaml: " + path + ": ")


def test_unreadable_and_unparsable_files(tmp_path):
    """A missing file and invalid YAML are refused naming the file."""
    with pytest.raises(ConfigError, match="missing.yaml"):
        load_config(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("listeners: [\n")
    with pytest.raises(ConfigError, match="bad.yaml.*not valid YAML"):
        load_config(str(bad))


def test_options_flags_override_defaults():
    """--listen replaces the default listener and --realm replaces the default realm."""
    options = Options()
    options.parseOptions(["--listen", "tcp:9001", "--listen", "unix:/tmp/x.sock", "--realm", "a", "--realm", "b"])
    config = options["config_object"]
    assert [l.endpoint for l in config.listeners] == ["tcp:9001", "unix:/tmp/x.sock"]
    assert set(config.router.realms) == {"a", "b"}


def test_options_default_is_realm1_on_localhost_8080():
    """Without options wampd serves realm1 on 127.0.0.1:8080."""
    options = Options()
    options.parseOptions([])
    config = options["config_object"]
    assert list(config.router.realms) == ["realm1"]
    assert config.listeners[0].endpoint == "tcp:8080:interface=127.0.0.1"


def test_options_refuse_bad_endpoint_and_loglevel():
    """An invalid endpoint string or log level is a usage error naming the flag."""
    from twisted.python.usage import UsageError

    with pytest.raises(UsageError, match="--listen: listeners\\[0\\].endpoint"):
        Options().parseOptions(["--listen", "nonsense:1"])
    with pytest.raises(UsageError, match="--loglevel"):
        Options().parseOptions(["--loglevel", "loud"])


def test_realm_history_and_disclosure():
    """Realm history rules and disclosure flags are read into the realm options."""
    config = parse_config(
        {
            "realms": [{"name": "app", "disclose_caller": True, "disclose_publisher": True,
                        "history": [{"uri": "com.app.", "match": "prefix", "limit": 10}, {"uri": "com.log"}]}],
            "listeners": [{"endpoint": "tcp:1"}],
        },
        "x.yaml",
    )
    options = config.router.realms["app"]
    assert options.disclose_caller and options.disclose_publisher
    assert [(r.uri, r.match, r.limit) for r in options.history] == [("com.app.", "prefix", 10), ("com.log", "exact", 100)]


@pytest.mark.parametrize(
    "rule, path",
    [
        ({"match": "prefix"}, "realms[0].history[0].uri"),
        ({"uri": "a..b"}, "realms[0].history[0].uri"),
        ({"uri": "a", "match": "regex"}, "realms[0].history[0].match"),
        ({"uri": "a", "limit": 0}, "realms[0].history[0].limit"),
        ({"uri": "a", "keep": 1}, "realms[0].history[0].keep"),
    ],
)
def test_bad_history_rules(rule, path):
    """Invalid history rules are refused naming their key path."""
    with pytest.raises(ConfigError) as raised:
        parse_config({"realms": [{"name": "a", "history": [rule]}], "listeners": [{"endpoint": "tcp:1"}]}, "c.yaml")
    assert raised.value.path == path


def test_auth_and_roles(monkeypatch):
    """Listener auth methods (secrets from the environment) and realm roles are read from the config."""
    monkeypatch.setenv("JOE_TICKET", "from-env")
    config = parse_config(
        {
            "realms": [{"name": "app", "roles": [{"name": "user", "permissions": [
                {"uri": "com.app.", "match": "prefix", "allow": {"call": True, "subscribe": True},
                 "disclose": {"caller": True}}]}]}],
            "listeners": [{"endpoint": "tcp:1", "auth": {
                "ticket": {"type": "static", "principals": {"joe": {"ticket": "${JOE_TICKET}", "role": "user"}}},
                "wampcra": {"users": {"pete": {"secret": "x", "role": "user", "salt": "s", "iterations": 10}}},
                "cryptosign": {"principals": {"al": {"authorized_keys": ["ab" * 32], "role": "user"}}},
                "anonymous": {"role": "guest"},
            }}],
        },
        "x.yaml",
    )
    auth = config.listeners[0].auth
    assert list(auth) == ["ticket", "wampcra", "cryptosign", "anonymous"]
    assert auth["ticket"].principals["joe"].ticket == "from-env"
    assert auth["wampcra"].principals["pete"].iterations == 10
    (permission,) = config.router.realms["app"].roles["user"]
    assert (permission.call, permission.subscribe, permission.publish, permission.disclose_caller) == (
        True, True, False, True)


@pytest.mark.parametrize(
    "auth, path",
    [
        ({"ticket": {"principals": {"joe": {"role": "user"}}}}, "listeners[0].auth.ticket.principals.joe.ticket"),
        ({"ticket": {"principals": {"joe": {"ticket": "${NOT_SET_ANYWHERE}", "role": "u"}}}},
         "listeners[0].auth.ticket.principals.joe.ticket"),
        ({"cryptosign": {"principals": {"a": {"authorized_keys": ["zz"], "role": "u"}}}},
         "listeners[0].auth.cryptosign.principals.a.authorized_keys[0]"),
        ({"kerberos": {}}, "listeners[0].auth.kerberos"),
        ({"ticket": {"type": "dynamic"}}, "listeners[0].auth.ticket.authenticator"),
        ({"ticket": {"type": "magic"}}, "listeners[0].auth.ticket.type"),
    ],
)
def test_bad_auth(auth, path):
    """Invalid auth sections are refused naming the key path."""
    with pytest.raises(ConfigError) as raised:
        parse_config({"listeners": [{"endpoint": "tcp:1", "auth": auth}]}, "c.yaml")
    assert raised.value.path == path


def test_scram_principals():
    """A wamp-scram section yields the spec method and Autobahn's draft method over the same principals."""
    config = parse_config({"listeners": [{"endpoint": "tcp:1", "auth": {"wamp-scram": {"principals": {
        "joe": {"password": "pw", "role": "user", "kdf": "pbkdf2", "iterations": 1000}}}}}]}, "c.yaml")
    auth = config.listeners[0].auth
    assert set(auth) == {"wamp-scram", "scram"}
    principal = auth["wamp-scram"].principals["joe"]
    assert (principal.kdf, principal.iterations, len(principal.stored_key)) == ("pbkdf2", 1000, 32)
