"""The ``verl.plugins`` entry point: every verl process (driver and Ray workers) imports it.

verl imports each entry point of the ``verl.plugins`` group at ``import verl`` time and logs
failures only at debug level, so ``tests/test_plugin_on_cpu.py`` checks in a fresh process
and inside a Ray worker that everything below is really registered.
"""


def register_all() -> None:
    """Idempotent: the launcher calls it again once the backend's environment is exported."""
    from siri_verl.backends import cpu

    cpu.register()


register_all()
