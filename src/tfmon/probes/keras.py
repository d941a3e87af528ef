"""tfmon's Keras callback, and its injection into every ``Model.fit``.

The callback reads like one of Keras' own: it reports the loop to tfmon and
serves the control gate at batch boundaries. Per-batch work is O(1): count,
check one flag, and at most every ``batch_event_interval`` seconds emit one
event with the latest logs (the loss curve does not need every batch).
"""

from __future__ import annotations

import functools
import sys
import time
from typing import Any

from tfmon import events
from tfmon.placement.layers import keras3_scopes
from tfmon.probes.boundary import BatchBoundary, clean, count_params
from tfmon.probes.checkpoint import save_keras_model
from tfmon.probes.context import ProbeContext
from tfmon.probes.datasets import dataset_facts

_PATCHED = "__tfmon_patched__"
_FIT_CALLBACKS_POSITION = 5  # fit(x, y, batch_size, epochs, verbose, callbacks, ...)
_EVALUATE_CALLBACKS_POSITION = 6  # evaluate(x, y, batch_size, verbose, sample_weight, steps, callbacks)
_PREDICT_CALLBACKS_POSITION = 4  # predict(x, batch_size, verbose, steps, callbacks)


class _TfmonCallbackMixin:
    """Shared by the Keras 3 and the tf_keras callback classes."""

    def _setup(self, ctx: ProbeContext, batch_size: int | None) -> None:
        self.ctx = ctx
        self.boundary = BatchBoundary(ctx, self)
        self.batch_size = batch_size
        self.epoch = 0  # 1-based while an epoch runs
        self.step = 0  # 1-based within the epoch
        self.global_step = 0
        self._epoch_base = 0  # global_step when the epoch began
        self._epochs_ended = 0  # the last epoch that reached on_epoch_end
        self._epoch_open = False
        self._last_logs = None  # the latest batch logs, cleaned only if an exception ends fit
        self._epoch_started_t = 0.0  # wall clock: the batch hook already reads time.time()
        self._first_batch: tuple[float, int] | None = None  # (seconds into the epoch, steps)
        self._last_batch_t = 0.0
        self._paused_at_last_batch = 0.0  # control.paused_seconds then: pauses are not training
        self._stopped_by_user = False
        self._in_fit = False  # from on_train_begin to the fit's end, as Keras' own callbacks keep it
        self.dataset: dict | None = None

    # -- the control gate's view of the loop
    def position(self) -> tuple[int, int]:
        return self.epoch, self.step

    def checkpoint(self) -> None:
        save_keras_model(self.model, self.ctx.checkpoints_dir, self.epoch, self.step, self.ctx.emit)

    def request_stop(self) -> None:
        self._stopped_by_user = True
        self.model.stop_training = True

    # -- Keras hooks
    def on_train_begin(self, logs=None):
        self._in_fit = True
        params = self.params or {}
        self.boundary.start_fit(
            epochs=params.get("epochs"),
            steps=params.get("steps"),
            batch_size=self.batch_size,
            model=getattr(self.model, "name", None),
            params=count_params(self.model),
            layer_scopes=_layer_scopes(self.model),
            steps_per_execution=_steps_per_execution(self.model),
            dataset=self.dataset,
        )
        # Asked between fits (a pause, a checkpoint, a quit): served before any batch trains.
        self.boundary.serve()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.step = 0
        self._epoch_base = self.global_step
        self._epoch_open = True
        self._epoch_started_t = time.time()
        self._first_batch = None
        self.boundary.start_epoch(self.epoch)

    def on_train_batch_end(self, batch, logs=None):
        # With steps_per_execution > 1 Keras calls this once per execution, with the
        # index of its last batch: count by that index (as BackupAndRestore does),
        # not by calls. The last execution may claim more batches than the epoch has.
        self.step = batch + 1
        steps = self.params.get("steps") if self.params else None
        if steps and self.step > steps:
            self.step = steps
        self.global_step = self._epoch_base + self.step
        self._last_logs = logs
        now = time.time()
        self._last_batch_t = now
        self._paused_at_last_batch = self.ctx.control.paused_seconds
        if self._first_batch is None:  # the wait for the epoch's first data shows here
            self._first_batch = (now - self._epoch_started_t, self.step)
        boundary = self.boundary
        if boundary.batch_due(now):
            boundary.emit_batch(now, self.epoch, self.step, self.global_step, logs)
        boundary.serve()

    def on_test_batch_end(self, batch, logs=None):
        # Validation inside fit: a pause requested now need not wait for it to end.
        self.boundary.serve()

    def on_epoch_end(self, epoch, logs=None):
        metrics = clean(logs)
        for name, lr in _learning_rates(self.model).items():
            metrics.setdefault(name, lr)
        self._end_epoch(epoch + 1, metrics)
        self.boundary.serve()

    def _end_epoch(self, epoch: int, metrics: dict, failed: bool = False) -> None:
        fields = {}
        steps = self.params.get("steps") if self.params else None
        if steps and self.step < steps:
            # Cut short (stop, a callback, an exception): say where, so the row does not read as a full epoch.
            fields["ended_at"] = f"{'failed' if failed else 'stopped'} at step {self.step}/{steps}"
        self._epoch_open = False
        self._epochs_ended = epoch
        self.boundary.end_epoch(epoch, self.step, self.global_step, metrics, **fields, **self._epoch_timing())

    def _epoch_timing(self) -> dict[str, float | int]:
        """Where the epoch's time went: the first batch (data start-up, tracing) and
        the training batches up to the last one (validation and callbacks excluded)."""
        if self._first_batch is None:
            return {}
        first_s, first_steps = self._first_batch
        return {
            "first_batch_seconds": round(first_s, 4),
            "first_steps": first_steps,
            "train_seconds": round(self._last_batch_t - self._epoch_started_t
                                   - (self._paused_at_last_batch - self.boundary.paused_before), 4),
        }

    def on_train_end(self, logs=None):
        if self._stopped_by_user:
            reason = "stopped by user"
        elif getattr(self.model, "stop_training", False):
            reason = "stopped early by a callback"
        else:
            reason = "completed"
        self._end_fit(reason)

    def _end_fit(self, reason: str, **fields) -> None:
        self._in_fit = False
        self.boundary.end_fit(self.ctx.fit_count, self._epochs_ended, reason, **fields)

    def on_fit_exception(self, exc: BaseException) -> None:
        """fit raised (a callback, the data, an interrupt): Keras calls no on_train_end, so
        close the open epoch and the fit here, saying how it ended. The exception goes on."""
        if not self._in_fit:  # not started, or ended already
            return
        if self._epoch_open and self.step:
            self._end_epoch(self.epoch, clean(self._last_logs), failed=True)
        if isinstance(exc, KeyboardInterrupt):
            reason = "quit by user" if self.ctx.control.quit_requested else "interrupted"
        else:
            reason = "failed"
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._end_fit(reason, error=error)

    def on_test_end(self, logs=None):
        # Validation inside fit reports through on_epoch_end's val_* logs.
        if not self._in_fit:
            self.ctx.emit(events.EVALUATE_END, metrics=clean(logs))


def _learning_rates(model: Any) -> dict[str, float]:
    """The learning rate of each optimizer that has trained, as metric names:
    ``learning_rate`` for one, ``learning_rate/<attribute>`` for several (a GAN's
    ``d_optimizer`` and ``g_optimizer``). An optimizer that never stepped (the
    default compile() leaves on a model whose own train_step uses others) is
    not shown: better no rate than a wrong one."""
    import numpy as np  # here, not at import: tfmon starts before the script imports numpy

    used = []
    for name, optimizer in _optimizers(model):
        try:
            if int(np.asarray(optimizer.iterations)) > 0:
                used.append((name, _float(optimizer.learning_rate, optimizer)))
        except Exception:
            continue
    if len(used) == 1:
        return {"learning_rate": used[0][1]}
    return {f"learning_rate/{name}": lr for name, lr in used}


def _optimizers(model: Any) -> list[tuple[str, Any]]:
    """model.optimizer, then every optimizer held as an attribute of the model."""
    found, seen = [], set()
    try:
        candidates = [("optimizer", getattr(model, "optimizer", None)), *vars(model).items()]
    except TypeError:
        candidates = [("optimizer", getattr(model, "optimizer", None))]
    for name, obj in candidates:
        if id(obj) in seen or not all(hasattr(obj, a) for a in ("apply_gradients", "iterations", "learning_rate")):
            continue
        seen.add(id(obj))
        found.append((name.lstrip("_"), obj))
    return found


def _float(value: Any, optimizer: Any) -> float:
    if callable(value) and not hasattr(value, "numpy"):  # a schedule (tf_keras returns it as is)
        value = value(optimizer.iterations)
    import numpy as np

    # np.asarray reads variables of every kind (a MirroredVariable refuses float()).
    return float(np.asarray(value))


def _layer_scopes(model: Any) -> dict[str, str]:
    """Graph scope -> layer name where they differ (Keras 3 renames its scopes;
    tf.keras does not). Empty when the layers cannot be listed."""
    if "tf_keras" in type(model).__module__:
        return {}
    try:
        names = [layer.name for layer in model.layers]
    except Exception:
        return {}
    return keras3_scopes(names[:2000])


def _steps_per_execution(model: Any) -> int | None:
    """Steps Keras runs per call of its train function (compile's steps_per_execution):
    Keras 3 keeps an int, tf.keras a variable. None when neither is readable."""
    for attr in ("steps_per_execution", "_steps_per_execution"):
        value = getattr(model, attr, None)
        if value is None:
            continue
        try:
            return int(value.numpy() if hasattr(value, "numpy") else value)
        except Exception:
            continue
    return None


def _callback_class(base: type) -> type:
    return type("TfmonCallback", (_TfmonCallbackMixin, base), {"__module__": __name__})


def _batch_size(args: tuple, kwargs: dict) -> int | None:
    """The batch size fit will use for arrays (Keras' default is 32); None for datasets."""
    if "batch_size" in kwargs:
        return kwargs["batch_size"] or _default_batch(args, kwargs)
    if len(args) > 2 and args[2] is not None:
        return args[2]
    return _default_batch(args, kwargs)


def _default_batch(args: tuple, kwargs: dict) -> int | None:
    x = args[0] if args else kwargs.get("x")
    return 32 if hasattr(x, "shape") or isinstance(x, (list, dict)) else None


def _wrap_fit(fit, callback_class: type, ctx: ProbeContext):
    @functools.wraps(fit)
    def fit_with_tfmon(self, *args, **kwargs):
        callback = callback_class()
        callback._setup(ctx, _batch_size(args, kwargs))
        callback.dataset = dataset_facts(args[0] if args else kwargs.get("x"))
        if len(args) > _FIT_CALLBACKS_POSITION:
            args = list(args)
            args[_FIT_CALLBACKS_POSITION] = [*(args[_FIT_CALLBACKS_POSITION] or []), callback]
        else:
            # A new list: the user's own list is never changed.
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), callback]
        try:
            return fit(self, *args, **kwargs)
        except BaseException as exc:  # caught by the script or not, the fit has ended
            callback.on_fit_exception(exc)
            raise

    setattr(fit_with_tfmon, _PATCHED, fit)
    return fit_with_tfmon


class _PredictCallbackMixin:
    """predict: how many batches in how long (a batch count only, O(1) per batch)."""

    def _setup(self, ctx: ProbeContext, batch_size: int | None) -> None:
        self.ctx = ctx
        self.batches = 0
        self._started = time.perf_counter()

    def on_predict_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_predict_end(self, logs=None):
        self.ctx.emit(events.PREDICT_END, batches=self.batches,
                      seconds=round(time.perf_counter() - self._started, 4))


def _wrap_with_callback(method, callbacks_position: int, callback_class: type, ctx: ProbeContext):
    """``evaluate``/``predict`` with tfmon's callback added to the call's own list.

    Only when the call's callbacks are the user's (a list, or none): fit's own
    validation passes its CallbackList to evaluate, and that is not a user call.
    Positional callbacks are left alone (rare, and the list would be the user's).
    """

    @functools.wraps(method)
    def with_tfmon(self, *args, **kwargs):
        user_callbacks = kwargs.get("callbacks")
        if len(args) <= callbacks_position and isinstance(user_callbacks, (list, tuple, type(None))):
            callback = callback_class()
            callback._setup(ctx, None)
            kwargs["callbacks"] = [*(user_callbacks or []), callback]  # a new list: the user's is unchanged
        return method(self, *args, **kwargs)

    setattr(with_tfmon, _PATCHED, method)
    return with_tfmon


def install(ctx: ProbeContext, module_names: tuple[str, ...] = ("keras", "tf_keras")) -> list[str]:
    """Patch ``Model.fit``, ``evaluate`` and ``predict`` of every Keras that is importable."""
    patched = []
    for name in module_names:
        module = _import(name)
        if module is None:
            continue
        model_cls = module.Model
        if hasattr(model_cls.fit, _PATCHED):
            patched.append(name)
            continue
        cls = _callback_class(module.callbacks.Callback)
        eval_cls = type("TfmonEvaluateCallback", (module.callbacks.Callback,), {
            "_setup": _TfmonCallbackMixin._setup,
            "on_test_end": _TfmonCallbackMixin.on_test_end,
        })
        predict_cls = type("TfmonPredictCallback", (_PredictCallbackMixin, module.callbacks.Callback), {})
        model_cls.fit = _wrap_fit(model_cls.fit, cls, ctx)
        model_cls.evaluate = _wrap_with_callback(model_cls.evaluate, _EVALUATE_CALLBACKS_POSITION, eval_cls, ctx)
        model_cls.predict = _wrap_with_callback(model_cls.predict, _PREDICT_CALLBACKS_POSITION, predict_cls, ctx)
        patched.append(name)
    return patched


def uninstall(module_names: tuple[str, ...] = ("keras", "tf_keras")) -> None:
    for name in module_names:
        module = sys.modules.get(name)
        if module is None:
            continue
        for attr in ("fit", "evaluate", "predict"):
            method = getattr(module.Model, attr, None)
            original = getattr(method, _PATCHED, None)
            if original is not None:
                setattr(module.Model, attr, original)


def _import(name: str):
    if name == "tf_keras":
        # Only when the script asks for legacy Keras and it is installed.
        import os

        if os.environ.get("TF_USE_LEGACY_KERAS") not in ("1", "true", "True"):
            return None
    try:
        return __import__(name)
    except Exception:
        return None
