"""The README's custom-loop example is the tested example, word for word."""

from conftest import ROOT


def test_readme_embeds_the_tested_custom_loop_example():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "examples" / "custom_loop.py").read_text()
    assert f"```python\n{example}```" in readme


def test_readme_commands_exist():
    readme = (ROOT / "README.md").read_text()
    for script in ("scripts/demo.sh", "scripts/test.sh"):
        assert f"bash {script}" in readme and (ROOT / script).is_file()
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
