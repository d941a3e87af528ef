"""When the simulated-GPU tests can run, and what they say when they cannot."""

from __future__ import annotations

from simgpu import plugin


def test_without_a_compiler_the_reason_is_no_c_compiler(monkeypatch):
    monkeypatch.setattr(plugin.shutil, "which", lambda name: None)
    assert plugin.skip_reason() == "skipped: no C compiler"


def test_the_cuda_build_of_tensorflow_is_not_the_simulated_gpus_environment(monkeypatch):
    monkeypatch.setattr(plugin.shutil, "which", lambda name: "/usr/bin/gcc")
    monkeypatch.setattr(plugin, "_distribution_names", lambda: {"tensorflow", "keras"})
    assert plugin.skip_reason() == plugin.NOT_CPU_TF
    monkeypatch.setattr(plugin, "_distribution_names", lambda: {"tensorflow-cpu", "keras"})
    assert plugin.skip_reason() is None


def test_the_environment_names_the_library_and_the_device_count(tmp_path):
    env = plugin.env(tmp_path / "lib.so", devices=2, base={"PATH": "/bin"})
    assert env == {"PATH": "/bin", plugin.LIBRARY_ENV: str(tmp_path / "lib.so"), plugin.DEVICES_ENV: "2"}
    assert plugin.without(env) == {"PATH": "/bin", plugin.DEVICES_ENV: "2"}
