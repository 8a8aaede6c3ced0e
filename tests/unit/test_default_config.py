"""
The built-in default configuration: the web client and the sample components, and how --listen,
--realm and --config change them.
"""

from pathlib import Path

from router.config import DEFAULT_WEB_ROOT, default_config
from router.tap import Options

REPO_WEB = Path(__file__).resolve().parents[2] / "web"
SAMPLES = ["components.ticker.Ticker", "components.calculator.Calculator", "components.chat.ChatRoom",
           "components.kv.KeyValueStore"]


def parse(*args: str):
    options = Options()
    options.parseOptions(list(args))
    return options["config_object"]


def test_default_serves_the_web_client_and_runs_the_samples():
    """The default listener serves the repository's web/ and the four samples run on realm1."""
    config = default_config()
    (listener,) = config.listeners
    assert Path(DEFAULT_WEB_ROOT) == REPO_WEB
    assert (listener.endpoint, listener.type, listener.web_root) == ("tcp:8080:interface=127.0.0.1", "universal",
                                                                      str(REPO_WEB))
    assert [(c.classname, c.realm) for c in config.components] == [(name, "realm1") for name in SAMPLES]
    assert parse() == config


def test_listen_keeps_the_web_root():
    """Listeners given by --listen replace the default one but still serve the web client."""
    config = parse("--listen", "tcp:9001", "--listen", "unix:/tmp/x.sock")
    assert [(listener.endpoint, listener.web_root) for listener in config.listeners] == [("tcp:9001", str(REPO_WEB)),
                                                                     ("unix:/tmp/x.sock", str(REPO_WEB))]
    assert [c.classname for c in config.components] == SAMPLES


def test_realm_replacing_realm1_drops_the_samples():
    """--realm replaces realm1, where the samples would run, so they are left out; listing realm1 keeps them."""
    assert parse("--realm", "app").components == ()
    assert [c.classname for c in parse("--realm", "app", "--realm", "realm1").components] == SAMPLES


def test_config_file_listeners_and_listen(tmp_path):
    """A config file has no samples unless it lists them; --listen keeps the file's web root, if any."""
    site = tmp_path / "site"
    site.mkdir()
    plain = tmp_path / "plain.yaml"
    plain.write_text("realms: [{name: app}]\nlisteners: [{endpoint: 'tcp:0'}]\n")
    config = parse("--config", str(plain), "--listen", "tcp:9002")
    assert config.components == ()
    assert config.listeners[0].web_root is None
    served = tmp_path / "served.yaml"
    served.write_text("realms: [{name: app}]\n"
                      "listeners: [{endpoint: 'tcp:0', web_root: '" + str(site) + "'}]\n"
                      "components: [{class: components.kv.KeyValueStore, realm: app}]\n")
    config = parse("--config", str(served), "--listen", "tcp:9002")
    assert config.listeners[0].web_root == str(site)
    assert [(c.classname, c.realm) for c in config.components] == [("components.kv.KeyValueStore", "app")]
