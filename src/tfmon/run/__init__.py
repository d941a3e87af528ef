"""The run's wiring: ``session.LiveRun`` (probes, recorder, control gate around the
user's script), ``job`` (the script itself), the control channel's server
(``channel``) and its client (``client``, for ``tfmon ctl`` and ``tfmon attach``)."""
