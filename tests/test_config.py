"""Settings: one declaration each, and the command line, the flat API and the checks all agree with it."""

from __future__ import annotations

import argparse

import pytest

from pump import ConfigError, ReplayConfig, Secret
from pump.cli import build_parser
from pump.cli.options import CLI_ONLY, config_from_args, flag_of
from pump.config import SETTINGS, ProducerSettings

REQUIRED = ["in.jsonl", "--topic", "t"]


def replay_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["replay"]


def test_every_setting_has_exactly_one_flag_and_every_flag_is_a_setting_or_declared_cli_only() -> None:
    actions = {a.dest: a for a in replay_parser()._actions if a.dest != "help"}
    settings_with_flags = {s.name for s in SETTINGS.values() if s.flag or s.extra.get("positional")}
    assert set(actions) == settings_with_flags | set(CLI_ONLY)
    for s in SETTINGS.values():
        if s.flag:
            assert s.flag in actions[s.name].option_strings, s.name
            assert actions[s.name].help and s.help in actions[s.name].help, f"{s.name}: help differs"
        elif not s.extra.get("positional"):
            assert s.extra.get("via"), f"{s.name} has no flag and says nothing of how it is set"


def test_the_command_line_defaults_are_the_settings_defaults() -> None:
    assert config_from_args(replay_parser().parse_args(REQUIRED)) == ReplayConfig.of(["in.jsonl"], "t")


def test_flags_land_in_their_settings_with_their_units() -> None:
    args = replay_parser().parse_args([*REQUIRED, "--linger-ms", "50", "--delivery-timeout", "120", "--no-progress", "-X",
                                       "retry_backoff_ms=200", "--checkpoint", "cp.json", "--mode", "sync"])  # fmt: skip
    config = config_from_args(args)
    assert config.producer.linger == 0.05 and config.delivery.delivery_timeout == 120.0
    assert config.observe.progress is False and config.producer.options == {"retry_backoff_ms": "200"}
    assert (config.checkpoint.path, config.delivery.mode) == ("cp.json", "sync")
    alias = config_from_args(replay_parser().parse_args([*REQUIRED, "--request-timeout", "7"]))
    assert alias.delivery.delivery_timeout == 7.0


def test_setting_names_are_unique_and_the_flat_api_reaches_every_group() -> None:
    names = [s.name for s in SETTINGS.values()]
    assert len(names) == len(set(names))
    config = ReplayConfig.of("a.csv", "t", key_field="k", partitions=3, security_protocol="SSL", mode="callback",
                             checkpoint_interval=1.0, metrics_linger=2.0)  # fmt: skip
    assert (config.input.key_field, config.producer.partitions, config.security.security_protocol) == ("k", 3, "SSL")
    assert (config.delivery.mode, config.checkpoint.interval, config.observe.metrics_linger) == ("callback", 1.0, 2.0)
    with pytest.raises(ConfigError, match="no setting named 'key_feld'"):
        ReplayConfig.of("a.csv", "t", key_feld="k")


@pytest.mark.parametrize(
    ("settings", "library", "cli"),
    [
        ({"workers": 0}, "input.workers must be at least 1", "--workers must be at least 1"),
        ({"linger": -1.0}, "producer.linger must not be negative", "--linger-ms must not be negative"),
        ({"delivery_timeout": 0.0}, "delivery.delivery_timeout must be positive", "--delivery-timeout must be positive"),
        ({"checkpoint_interval": 0.0}, "checkpoint.interval must be positive", "--checkpoint-interval must be positive"),
        (
            {"dead_letter": "topic:"},
            "delivery.dead_letter needs a PATH or topic:NAME",
            "--dead-letter needs a PATH or topic:NAME",
        ),
        (
            {"security_protocol": "SASL_SSL", "sasl_username": "u"},
            "security.security_protocol SASL_SSL needs security.sasl_username and security.sasl_password",
            "--security-protocol SASL_SSL needs --sasl-username and $PUMP_SASL_PASSWORD or --sasl-password-file",
        ),
    ],
)
def test_a_wrong_value_names_the_setting_as_each_audience_knows_it(settings: dict, library: str, cli: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ReplayConfig.of("a.csv", "t", **settings)
    assert str(caught.value) == library
    assert caught.value.render(flag_of) == cli


@pytest.mark.parametrize("bad", ["", ";;", '"', "\n", "a", "7", " ", "§"])
def test_a_delimiter_is_one_ascii_character_that_cannot_be_a_cells_text(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"^input\.delimiter must be one ASCII character other than a letter") as caught:
        ReplayConfig.of("a.csv", "t", delimiter=bad)
    assert caught.value.render(flag_of).startswith("--delimiter must be one ASCII character")


@pytest.mark.parametrize(("given", "char"), [("tab", "\t"), ("\\t", "\t"), ("\t", "\t"), (";", ";"), ("|", "|"), (None, None)])
def test_a_delimiter_may_be_spelled_tab(given: str | None, char: str | None) -> None:
    assert ReplayConfig.of("a.csv", "t", delimiter=given).input.field_delimiter == char


def test_constraints_are_checked_when_a_group_is_built_directly_too() -> None:
    with pytest.raises(ConfigError, match=r"producer\.partitions must be at least 1"):
        ProducerSettings(partitions=0)


def test_a_password_never_shows() -> None:
    config = ReplayConfig.of("a.csv", "t", security_protocol="SASL_SSL", sasl_username="u", sasl_password=Secret("hunter2"))
    assert "hunter2" not in repr(config) and "hunter2" not in str(config.security)
    assert config.security.sasl_password is not None and config.security.sasl_password.reveal() == "hunter2"


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"format": "xml"}, "input.format 'xml': Invalid enum value 'xml'"),
        ({"workers": "2"}, "input.workers '2': Expected `int`, got `str`"),
        ({"options": {"retries": 3}}, "producer.options {'retries': 3}: Expected `str`, got `int` - at `$[...]`"),
        ({"sasl_password": "plain text"}, "security.sasl_password must be a pump.Secret (its repr hides the value)"),
    ],
)
def test_a_value_of_the_wrong_type_or_choice_is_refused_when_the_config_is_built(settings: dict, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ReplayConfig.of("a.csv", "t", **settings)
    assert str(caught.value) == said
