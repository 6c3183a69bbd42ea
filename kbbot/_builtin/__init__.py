"""The defaults the wheel carries: the built-in intents and seed articles.

Their editable source of truth is the project's top-level `intents/` and `seeds/`; pyproject.toml maps them in
as the data packages `kbbot._builtin.intents` and `kbbot._builtin.seeds`, so a wheel, a plain `pip install .`
and an editable install all find them through importlib.resources (see kbbot.locate).
"""
