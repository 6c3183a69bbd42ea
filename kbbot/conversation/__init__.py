"""The conversation engine: intents, thread state and the flow from question to fix.

Import from the submodules (`kbbot.conversation.engine`, `.state`, `.intents`); this package module stays
empty so that `kbbot.cards` can use `kbbot.conversation.messages` without an import cycle.
"""
