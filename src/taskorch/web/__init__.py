"""The read-only web view of taskorch (see :mod:`taskorch.web.app`)."""
