"""Code that serves one page of the book, one module (or sub-package) per chapter: ``chNN_topic``.

The reusable core lives one level up (``handbook_utils.tasks``, ``.models``, ...); a chapter module
only holds what its own page needs, and its tests are ``tests/test_chNN_topic.py``.
"""
