"""Command-line parsing: options before the script belong to tfmon, after it to the script."""

import pytest

from tfmon import cli


def test_subcommand_found_after_tfmon_options(monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "_subcommand", lambda name, argv, supervised: seen.append((name, argv)) or 0)
    assert cli.main(["--headless", "--run-dir", "x", "demo", "--epochs", "2"]) == 0
    assert cli.main(["ls"]) == 0
    assert seen == [("demo", ["--headless", "--run-dir", "x", "--epochs", "2"]), ("ls", [])]


def test_script_args_are_the_scripts(monkeypatch, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("")
    seen = []
    monkeypatch.setattr(cli, "run_script_command", lambda opts, s, a, supervised: seen.append((opts.headless, s, a)) or 0)
    cli.main(["--headless", str(script), "--headless", "--epochs", "3"])
    assert seen == [(True, script, ["--headless", "--epochs", "3"])]


def test_bad_option_is_a_usage_error_with_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--sample-interval", "fast", "x.py"])
    assert exc.value.code == 2
    assert "invalid float value" in capsys.readouterr().err
