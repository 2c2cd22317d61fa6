"""Configuration: the example file loads, and bad settings give one readable line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftpferry.server.config import ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "ftpferry.example.toml"


def test_example_config_loads_with_every_section() -> None:
    config = load_config(EXAMPLE, {})
    assert config.port == 2121
    assert [user.name for user in config.users] == ["alice", "reader"]
    assert config.users[1].read_only
    assert config.defender.allow == ("127.0.0.0/8",)
    assert config.umask == 0o022


def test_flags_win_over_the_file() -> None:
    config = load_config(EXAMPLE, {"port": 2999, "limits": {"idle_timeout": 5.0}})
    assert config.port == 2999
    assert config.limits.idle_timeout == 5.0
    assert config.limits.data_timeout == 30.0  # the rest of [limits] stays


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"passive_ports": "40000-39999"}, "passive-ports 40000-39999 is an empty range"),
        ({"passive_ports": "80-90"}, "must lie within 1024-65535"),
        ({"passive_ports": "abc"}, "is not of the form LO-HI"),
        ({"host": "not-an-ip"}, "is not an IP address"),
        ({"umask": "999"}, "is not an octal number"),
        ({"passive_address_map": {"nonsense": "1.2.3.4"}}, "is not a network"),
        ({"masquerade_address": "::1"}, "is not IPv4"),
        ({"tls": {"require_data": True}}, "need a certificate"),
        ({"tls": {"cert": "x.pem"}}, "both cert and key"),
        ({"defender": {"allow": ["bogus"]}}, "is not a network"),
    ],
)
def test_bad_settings_fail_with_one_line(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, overrides)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("port = = 3\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(broken, {})


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "typo.toml"
    config.write_text("pasive_ports = '30000-30010'\n")
    with pytest.raises(ConfigError, match="pasive"):
        load_config(config, {})
