"""What the client's tests share: a browser-like HTTP client and an in-memory double of the
services' contract. Importable as ``client_testing`` (pytest's ``pythonpath``); not a
``tests`` package, whose name would collide with the repository's root ``tests``."""
