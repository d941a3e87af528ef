""""Why is it slow?": a short ranked list of findings, each with its evidence
(numbers) and the change to try, judged by pure rules over the run's events.

- ``facts``: folds the events the rules read (the run state's sub-states, plus
  epoch timing, utilisation while training, retracing and XLA messages);
- ``rules``: one pure function per rule, and ``diagnose`` that ranks them;
- ``diagnoser``: in the live run, folds the bus in a thread and emits a
  ``verdict`` event whenever the list changes (epoch ends, fit end, run end);
- ``view``: what the UI and headless output show of ``verdict`` events.
"""
