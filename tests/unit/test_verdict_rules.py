"""The verdict's rules on constructed run states (the real runs are in
tests/e2e/test_verdict.py): each rule finds what it should, with its numbers,
and says nothing when it cannot judge."""

from __future__ import annotations

import types
from pathlib import Path

from tfmon.memory.readers import IoregReader, NvmlReader
from tfmon.verdict import rules
from tfmon.verdict.facts import RunFacts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NO_DRIVER = {"check": "nvidia_driver", "status": "fail", "message": "no GPU is present", "fix": "use a GPU machine"}
NO_METAL = {"check": "tensorflow_metal", "status": "fail", "message": "tensorflow-metal is not installed",
            "fix": "pip install tensorflow-metal"}


def facts(*evs: dict) -> RunFacts:
    f = RunFacts()
    for i, e in enumerate(evs):
        e.setdefault("t", 1000.0 + i)
        f.apply(e)
    return f


def fit_start(spe=1, dataset=None, **kw) -> dict:
    return {"type": "fit_start", "fit": 1, "epochs": 5, "steps": 100, "batch_size": 4,
            "steps_per_execution": spe, "dataset": dataset, **kw}


def epoch(n: int, first_s: float, train_s: float, steps: int = 100, first_steps: int = 1) -> dict:
    return {"type": "epoch_end", "epoch": n, "steps": steps, "global_step": n * steps, "seconds": train_s,
            "metrics": {}, "first_batch_seconds": first_s, "first_steps": first_steps, "train_seconds": train_s}


def cpu_devices() -> dict:
    return {"type": "devices", "source": "tf", "backend": "CPU", "physical": [{"name": "/physical_device:CPU:0"}]}


def gpu_devices() -> dict:
    return {"type": "devices", "source": "tf", "backend": "SIMGPU", "gpus": [{"device": "GPU:0"}]}


# -- 1 no GPU in use

def test_no_gpu_is_not_judged_before_tensorflow_lists_its_devices():
    assert rules.no_gpu(facts({"type": "environment", "findings": [NO_DRIVER]})) is None


def test_no_gpu_on_a_machine_without_one_gives_the_doctors_reason_ranked_last():
    got = rules.no_gpu(facts({"type": "environment", "findings": [NO_DRIVER]}, cpu_devices()))
    assert got.rule == "no_gpu" and "CPU:0" in got.evidence and "no GPU is present" in got.evidence
    assert got.change == "use a GPU machine"
    assert got.score < 0.3  # nothing the script can change


def test_no_gpu_on_a_mac_without_metal_is_the_top_finding_with_the_doctors_fix():
    f = facts({"type": "environment", "findings": [NO_METAL]}, cpu_devices(), fit_start(), epoch(1, 0.5, 0.6))
    got = rules.diagnose(f)[0]
    assert got.rule == "no_gpu" and got.change == "pip install tensorflow-metal" and got.score > 0.9


def test_gpu_visible_but_every_compute_op_on_the_cpu():
    nodes = [[f"StatefulPartitionedCall/sequential/dense/MatMul_{i}", "MatMul", "CPU:0"] for i in range(6)]
    f = facts(gpu_devices(), {"type": "placement", "nodes": nodes}, fit_start(), epoch(1, 0.5, 0.6))
    got = rules.no_gpu(f)
    assert got.title.startswith("GPU visible but unused") and "all 6 compute ops ran on the CPU" in got.evidence


# -- 2 CPU fallbacks that matter

def _fallback(layer: str, op: str, phase: str, weight: float, eager: bool = False, i: int = 0) -> dict:
    return {"type": "fallback", "node": f"{layer}/{op}_{i}", "op": op, "device": "CPU:0", "layer": layer,
            "phase": phase, "eager": eager, "weight": weight, "reason_code": "no_gpu_kernel",
            "reason": f"no GPU kernel for {op}", "advice": f"replace {layer}", "gpu_dtypes": []}


def _gpu_step(n: int = 20) -> dict:
    return {"type": "placement", "nodes": [[f"StatefulPartitionedCall/m/d{i}/MatMul", "MatMul", "GPU:0"] for i in range(n)]}


def test_heavy_fallbacks_in_the_training_step_are_named_by_layer():
    f = facts(gpu_devices(), _gpu_step(), fit_start(), epoch(1, 0.5, 0.6),
              _fallback("conv2d", "Conv2D", "forward", 10), _fallback("conv2d", "Conv2DBackpropFilter", "backward", 10),
              _fallback("dense", "Softmax", "forward", 10))
    got = rules.cpu_fallbacks(f)
    assert got.rule == "cpu_fallbacks" and got.title == "CPU fallbacks: conv2d, dense"
    assert "3 compute ops on the CPU (3 inside the training step)" in got.evidence
    assert "cost 30 per step against 200 on the GPU" in got.evidence
    assert "conv2d: Conv2D forward, Conv2DBackpropFilter backward" in got.evidence
    assert got.change == "replace conv2d"
    assert 0.1 <= got.score <= 0.2  # 30 / 230


def test_light_fallbacks_outside_the_step_do_not_matter():
    f = facts(gpu_devices(), _gpu_step(), fit_start(), epoch(1, 0.5, 0.6),
              _fallback("", "Cast", "eager", 0.1, eager=True), _fallback("dense", "Shape", "forward", 0.1))
    assert rules.cpu_fallbacks(f) is None


def test_an_eager_fallback_weighs_by_how_often_it_runs_per_step():
    eager = {"type": "placement", "eager": {"Softmax@CPU:0": 400}}  # 4 per step over 100 steps
    f = facts(gpu_devices(), _gpu_step(), fit_start(), epoch(1, 0.5, 0.6), eager,
              _fallback("", "Softmax", "eager", 10, eager=True))
    got = rules.cpu_fallbacks(f)
    assert got is not None and "cost 12 per step" in got.evidence  # 10 x 4/step x 0.3 outside the step


def test_no_fallback_verdict_without_a_gpu():
    f = facts(cpu_devices(), fit_start(), epoch(1, 0.5, 0.6), _fallback("conv2d", "Conv2D", "forward", 10))
    assert rules.cpu_fallbacks(f) is None


# -- 3 per-step overhead

def test_millisecond_steps_with_steps_per_execution_1_suggest_steps_per_execution():
    f = facts(fit_start(steps=500), epoch(1, 0.4, 0.9, steps=500), epoch(2, 0.002, 0.5, steps=500))
    got = rules.step_overhead(f)
    assert got.rule == "step_overhead"
    assert "ms per step" in got.evidence and "steps_per_execution=1" in got.evidence
    assert "steps_per_execution=32" in got.change  # 32 x ~1 ms makes a call of 20 ms or more


def test_steps_per_execution_set_or_unknown_or_slow_steps_say_nothing():
    fast = (epoch(1, 0.4, 0.9, steps=500, first_steps=32), epoch(2, 0.02, 0.5, steps=500, first_steps=32))
    assert rules.step_overhead(facts(fit_start(spe=32), *fast)) is None
    assert rules.step_overhead(facts(fit_start(spe=None), *fast)) is None
    assert rules.step_overhead(facts(fit_start(), epoch(1, 0.1, 2.0), epoch(2, 0.02, 2.0))) is None  # 20 ms steps
    custom = {"type": "fit_start", "fit": 1, "loop": "custom"}
    assert rules.step_overhead(facts(custom, *fast)) is None


def test_too_few_steps_to_tell_say_nothing():
    assert rules.step_overhead(facts(fit_start(), epoch(1, 0.01, 0.012, steps=5))) is None


# -- 4 input-bound

PIPELINE = {"stages": ["Range", "Map", "Batch"], "cache": False, "prefetch": False, "maps": 1,
            "parallel_maps": 0, "py_function": True}


def test_every_epoch_waiting_for_its_first_batch_is_input_bound_and_names_what_the_dataset_lacks():
    f = facts(fit_start(dataset=PIPELINE), epoch(1, 1.0, 1.5), epoch(2, 0.4, 0.9), epoch(3, 0.42, 0.92))
    got = rules.input_bound(f)
    assert got.rule == "input_bound" and "first batch of epochs 2-3 waits" in got.evidence
    assert "lacks cache(), num_parallel_calls, prefetch()" in got.change and "py_function" in got.change
    complete = dict(PIPELINE, cache=True, prefetch=True, maps=0, parallel_maps=1, py_function=False)
    f = facts(fit_start(dataset=complete), epoch(1, 1.0, 1.5), epoch(2, 0.4, 0.9), epoch(3, 0.42, 0.92))
    assert "already caches and prefetches" in rules.input_bound(f).change


def test_what_to_try_when_the_pipeline_cannot_be_seen():
    idle = [{"type": "memory", "proc_cpu_pct": 150.0, "nv0_util_pct": 5}] * 12
    arrays = facts(fit_start(dataset=None), *idle)  # fit(x, y): Keras builds the pipeline
    assert rules.input_bound(arrays).change.startswith("feed fit a tf.data pipeline")
    custom = facts({"type": "fit_start", "fit": 1, "loop": "custom"}, *idle)
    assert rules.input_bound(custom).change.startswith("in the input pipeline (tfmon cannot see it)")


def test_a_slow_first_epoch_alone_is_tracing_not_input():
    f = facts(fit_start(dataset=PIPELINE), epoch(1, 1.0, 1.5), epoch(2, 0.006, 0.5), epoch(3, 0.005, 0.5))
    assert rules.input_bound(f) is None


def _training_with(samples: list[dict]) -> RunFacts:
    return facts(fit_start(dataset=PIPELINE), *({"type": "memory", **s} for s in samples))


def _ioreg_sample(name: str) -> dict:
    text = (FIXTURES / "ioreg" / name).read_text()
    runner = lambda cmd, **kw: types.SimpleNamespace(returncode=0, stdout=text, stderr="")  # noqa: E731
    return IoregReader(runner).read()


def test_apple_gpu_idle_per_ioreg_while_the_process_is_busy_is_input_bound():
    sample = _ioreg_sample("m1pro-t6000-macos12.6.txt")  # real output: Device Utilization % 2
    got = rules.input_bound(_training_with([dict(sample, proc_cpu_pct=180.0)] * 12))
    assert got is not None and "Apple GPU busy 2% while the process uses 180% CPU" in got.evidence
    # The same GPU while the process idles: not the host's fault, nothing said.
    assert rules.input_bound(_training_with([dict(sample, proc_cpu_pct=20.0)] * 12)) is None


def test_nvidia_utilisation_per_nvml_low_or_high():
    def nvml(util: int) -> dict:
        nv = types.SimpleNamespace(
            nvmlInit=lambda: None, nvmlDeviceGetCount=lambda: 1, nvmlDeviceGetHandleByIndex=lambda i: i,
            nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=util),
            nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=1 << 30, total=16 << 30))
        return dict(NvmlReader(nv).read(), proc_cpu_pct=100.0)

    got = rules.input_bound(_training_with([nvml(12)] * 12))
    assert "NVIDIA GPU busy 12%" in got.evidence
    assert rules.input_bound(_training_with([nvml(87)] * 12)) is None
    assert rules.input_bound(_training_with([nvml(12)] * 5)) is None  # too few samples to tell


def test_samples_outside_training_do_not_count():
    sample = dict(_ioreg_sample("m4-agxacceleratorg16g-performance-statistics.txt"), proc_cpu_pct=150.0)
    f = facts(*({"type": "memory", **sample} for _ in range(12)))  # before any fit
    assert rules.input_bound(f) is None


# -- 5 memory pressure

def test_swap_growing_while_training():
    f = facts(fit_start(), {"type": "memory_warning", "kind": "swap_growing", "message": "swap", "swap_used_mb": 2100.0})
    got = rules.memory_pressure(f)
    assert got.title == "memory pressure: swapping while training" and "2100 MB" in got.evidence
    assert "smaller batch size (now 4)" in got.change and "--memory-growth" in got.change


def test_a_leak_gives_its_epoch_trend():
    epochs = [{"type": "memory_epoch", "epoch": i, "n": i, "rss_mb": 500.0 + 60 * i,
               "rss_slope_mb": 60.0 if i >= 3 else None} for i in range(1, 5)]
    warning = {"type": "memory_warning", "kind": "leak", "series": "rss", "slope_mb": 60.0, "epochs": 3, "message": "leak"}
    got = rules.memory_pressure(facts(fit_start(), *epochs, warning))
    assert got.title == "memory grows every epoch: +60 MB/epoch"
    assert "560, 620, 680, 740 MB" in got.evidence and "over 4 epochs" in got.evidence


def test_no_memory_warning_no_memory_finding():
    assert rules.memory_pressure(facts(fit_start(), {"type": "memory_epoch", "epoch": 1, "n": 1, "rss_mb": 500.0})) is None


# -- 6 retracing

RETRACE = ("WARNING:tensorflow:{n} out of the last {n} calls to <function {name} at 0x7fe68fbb84a0> triggered "
           "tf.function retracing. Tracing is expensive and the excessive number of tracings could be due to (1) ...")


def test_retracing_warnings_are_counted_per_function():
    f = facts(*({"type": "log", "stream": "stderr", "text": RETRACE.format(n=n, name="step")} for n in (5, 6)),
              {"type": "log", "stream": "stderr",
               "text": RETRACE.format(n=5, name="TensorFlowTrainer.make_train_function.<locals>.one_step_on_data")})
    got = rules.retracing(f)
    assert got.title == "retracing: step"
    assert "step: 6 of its last 6 calls traced again (2 warnings)" in got.evidence
    assert "TensorFlowTrainer.make_train_function.one_step_on_data: 5 of its last 5" in got.evidence
    assert "input_signature" in got.change


# -- 7 XLA without a compiler

def test_xla_without_a_compiler_from_a_traceback_or_a_metal_warning():
    line = ("tensorflow.python.framework.errors_impl.InternalError: Could not find compiler for platform SIMGPU: "
            "NOT_FOUND: could not find registered compiler for the platform -- was support for that platform linked in?")
    got = rules.xla(facts({"type": "log", "stream": "stderr", "text": "Traceback...\n" + line}))
    assert got.title == "XLA cannot compile for platform SIMGPU" and "jit_compile=False" in got.change
    assert got.evidence.startswith("XLA failed: tensorflow.python")
    metal = {"type": "tf_warning", "code": "xla_platform_not_found", "severity": "error",
             "message": "OP_REQUIRES failed at xla_ops.cc:418 : NOT_FOUND: could not find registered platform with id: 0x13f441e40",
             "advice": "..."}
    got = rules.xla(facts(metal))
    assert got is not None and "registered platform with id" in got.evidence


def test_diagnose_ranks_a_run_that_cannot_go_on_first():
    line = "Could not find compiler for platform SIMGPU: NOT_FOUND"
    f = facts({"type": "environment", "findings": [NO_DRIVER]}, cpu_devices(), fit_start(steps=500),
              epoch(1, 0.4, 0.9, steps=500), epoch(2, 0.002, 0.5, steps=500), {"type": "log", "text": line + " x"})
    assert [x.rule for x in rules.diagnose(f)] == ["xla", "step_overhead", "no_gpu"]


def test_nothing_known_nothing_said():
    assert rules.diagnose(facts({"type": "run_start", "script": "x.py"})) == []


def test_a_recorded_simulated_gpu_run_has_fallbacks_that_matter_named_by_layer():
    from tfmon.recorder import read_events

    f = RunFacts()
    for e in read_events(FIXTURES / "runs" / "simgpu-mlp-2-epochs"):
        f.apply(e)
    got = rules.cpu_fallbacks(f)
    assert got is not None and not got.title.startswith("CPU fallbacks: (no layer)")
    assert "dense_1: BiasAddGrad backward, Softmax forward" in got.evidence  # the model's own layer names
    assert rules.no_gpu(f) is None
