"""The local HTTP API (``vpstudio serve``): cloud-style identification jobs on this machine.

Modules: :mod:`.auth` (bearer token, webhook signatures), :mod:`.jobs_store` (SQLite job
records), :mod:`.pool` (bounded worker pool with cancel tokens), :mod:`.webhooks`
(signed deliveries with retries), :mod:`.inputs` (url/content to a local file),
:mod:`.tasks` (the engine calls behind each job kind), :mod:`.app` (the FastAPI app).
FastAPI and uvicorn are imported only here, never by the rest of the engine.
"""
