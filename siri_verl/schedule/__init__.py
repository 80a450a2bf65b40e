"""``python -m siri_verl.schedule``: the schedule preview command; its code is ``siri_verl/siri/preview.py``.

The schedules themselves are ``siri_verl/siri/schedule.py``.
"""
