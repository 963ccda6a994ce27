"""The latent-space viewer: a page in the browser that renders a checkpoint's generator as its
settings change (``python viewer.py``; the server is ``viewer.server``, the page ``static/``)."""
