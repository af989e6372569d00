"""Stand-ins for WeChat, for development, the demo and tests — never imported by production.

- ``simulator``: builds the requests WeChat's server sends to our webhook (signed, encrypted
  in safe mode) and reads our replies; `gridbot chat`, the tests and the benchmark use it.
- ``sandbox``: answers the WeChat API our worker calls (tokens, 客服消息, 模板消息, WeCom,
  QR codes) for `gridbot serve --demo` and tests, on a machine with no internet.

``bot.app`` mounts the sandbox only when ``settings.sandbox`` is on (refused in production)
and imports it only then; ``bot.app`` and ``bot.worker`` import neither module
(tests/bot/test_devtools_imports.py).
"""
