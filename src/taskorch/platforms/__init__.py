"""Git platform adapters behind one interface (:mod:`taskorch.platforms.base`)."""
