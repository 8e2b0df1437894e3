"""``vpstudio batch``: identification of many recordings on a Dask cluster.

The client (the ``vpstudio batch`` process) expands the inputs (:mod:`.inputs`), reads
the library once and sends its voiceprints to the workers, submits at most one file
per worker thread at a time (:mod:`.runner`), and writes each result atomically as it
arrives, with a line in the resumable manifest (:mod:`.manifest`). Workers
(:mod:`.work`) run :func:`engine.identify.identify` on a path (streamed: a 24 h file
stays within the engine's memory bound) with models loaded once per worker process;
they never open the SQLite library.

``dask.distributed`` is imported only by :mod:`.runner` (on the client and in workers),
so ``vpstudio --help`` and the rest of the engine start without it.
"""
