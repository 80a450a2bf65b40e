"""``python -m siri_verl.pareto``: the Pareto frontier command; its code is ``siri_verl/tracking/pareto.py``."""
