"""Requests: what a user asks, parsed once and checked completely before anything is queued.

The operation registry (``operations``), the parser of a chain into one ``Plan`` (``chain``,
``plan``), every request form ISIMIP clients send turned into that one (``compat``), what a
request may hold (``limits``), ISIMIP-style output names (``naming``) and the submit-time check
against the files themselves (``submission.build_request``).

May import: ``engine``, ``regions``, ``files`` and the ground.
"""
