"""The script runner behaves like ``python SCRIPT ARGS``."""

import json
import sys

from tfmon.run.job import run_script, script_problem


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_argv_main_and_path0(tmp_path):
    out = tmp_path / "seen.json"
    script = write(
        tmp_path,
        "s.py",
        f"import sys, json\njson.dump([sys.argv, __name__, sys.path[0]], open({str(out)!r}, 'w'))\n",
    )
    saved_argv, saved_path0 = list(sys.argv), sys.path[0]
    assert run_script(script, ["--a", "1"]).exit_code == 0
    assert json.loads(out.read_text()) == [[str(script), "--a", "1"], "__main__", str(tmp_path)]
    assert sys.argv == saved_argv and sys.path[0] == saved_path0  # put back afterwards


def test_exit_codes(tmp_path):
    assert run_script(write(tmp_path, "a.py", "import sys; sys.exit(3)"), []).exit_code == 3
    assert run_script(write(tmp_path, "b.py", "import sys; sys.exit()"), []).exit_code == 0
    result = run_script(write(tmp_path, "c.py", "import sys; sys.exit('bad input')"), [])
    assert (result.exit_code, result.error) == (1, "bad input")
    result = run_script(write(tmp_path, "d.py", "def f():\n    raise ValueError('nope')\nf()\n"), [])
    assert result.exit_code == 1 and result.error_type == "ValueError"
    assert 'd.py", line 3' in result.error and "runpy" not in result.error
    result = run_script(write(tmp_path, "e.py", "def broken(:\n"), [])
    assert result.exit_code == 1 and result.error_type == "SyntaxError" and "e.py" in result.error


def test_script_problems_are_one_line(tmp_path):
    assert "No such file" in script_problem(str(tmp_path / "nope.py"))
    assert "directory" in script_problem(str(tmp_path))
    assert script_problem(str(write(tmp_path, "ok.py", ""))) is None


def test_a_signal_handler_installed_from_a_worker_thread_is_ignored_with_a_note(tmp_path):
    import threading

    notes = []
    script = write(tmp_path, "sig.py", "import signal\nsignal.signal(signal.SIGTERM, lambda *a: None)\nprint('went on')\n")
    results = []
    thread = threading.Thread(target=lambda: results.append(run_script(script, [], warn=notes.append)))
    thread.start()
    thread.join()
    assert results[0].exit_code == 0, results[0].error
    assert notes and "SIGTERM" in notes[0]
    import signal

    assert signal.signal.__module__ == "signal"  # put back


def test_file_is_absolute_as_under_python(tmp_path, monkeypatch):
    out = tmp_path / "file.json"
    write(tmp_path, "f.py", f"import json\njson.dump(__file__, open({str(out)!r}, 'w'))\n")
    monkeypatch.chdir(tmp_path)
    assert run_script("f.py", []).exit_code == 0
    assert json.loads(out.read_text()) == str(tmp_path / "f.py")
