"""The process side: assembling a bot from settings, its HTTP routes, health, metrics, `kbbot serve` and its
worker processes, and the loopback harness `kbbot chat` and the scenario tests run on.

    runtime.py   BotRuntime: settings -> index, store, Web API client, bolt app; health; index reload
    http.py      the aiohttp routes: /slack/events (checked before bolt sees it), /healthz, /metrics
    metrics.py   Prometheus counters and histograms (aggregated across `serve --workers`)
    serve.py     `kbbot serve`: one process, signals, start-up checks
    workers.py   `serve --workers N`: the pre-fork supervisor
    loopback.py  the real bot on loopback with Slack stood in (`kbbot chat`, scenario tests)

Deliberately imports nothing: the Slack adapter counts into `kbbot.server.metrics` without loading the runtime.
"""
