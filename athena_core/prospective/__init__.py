"""Prospective memory: intentions (tasks, goals, reminders) and what fires them - time
triggers evaluated by Athena itself (:mod:`~athena_core.prospective.schedule`), and
event and context triggers evaluated on the write path
(:mod:`~athena_core.prospective.cues`). The operations live in
:mod:`~athena_core.prospective.service`."""

__all__: list[str] = []
