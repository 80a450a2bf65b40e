"""Run the real verl trainer on a machine with no accelerator (``backend=cpu``).

- ``platform.py``: the ``cpu`` platform, registered in every verl process, selected only by
  ``VERL_PLATFORM=cpu``;
- ``rollout.py`` (rollout ``hf``), ``engines.py`` (FSDP engines for device ``cpu``) and
  ``patches.py`` (gloo): registered by ``siri_verl/plugin.py`` on that platform only, each
  once verl's module holding its registry is imported. Importing verl's FSDP engine resolves
  verl's platform singleton, which must not happen before ``VERL_PLATFORM`` is known, and GPU
  jobs need none of them.
"""
