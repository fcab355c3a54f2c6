"""Ethereum JSON-RPC 2.0 over HTTP for the embedded node.

Shaped like trinity's ``rpc/``: ``params`` decodes request values, ``format`` turns chain objects
into RPC JSON in one place, ``methods`` holds one class per namespace, ``dispatch`` validates
requests and maps errors, ``server`` is the ASGI app.
"""
