"""The engine: one reconcile path (``reconcile``), the pure plan (``plan``, ``compare``),
what it reads (``store``, ``observed``), the tick with its collection step (``tick``,
``signals``), the Secret policy's API side (``secrets``) and leader election
(``leader``)."""
