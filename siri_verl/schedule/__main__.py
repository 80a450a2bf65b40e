"""``python -m siri_verl.schedule recipe=NAME [KEY=VALUE ...] [--png PATH]``: ``siri_verl/siri/preview.py:main``."""

from siri_verl.siri.preview import main

main()
