"""Voiceprint Studio's desktop window (PySide6 + pyqtgraph).

The GUI never runs engine work on the main thread: everything long goes
through :class:`gui.jobs_bridge.JobsBridge`, which runs ``engine.jobs`` jobs on
worker threads and hands their snapshots back to the main thread as queued Qt
signals.
"""
