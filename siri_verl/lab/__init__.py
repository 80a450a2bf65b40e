"""The lab: the toy-scale study of both papers on CPU, apart from the plugin a cluster user runs.

Its task (running sums, ``running_sums.py``; single-digit addition for the tiny smoke recipes,
``toy_addition.py``), its models (the 1M toy reasoner, ``toy_reasoner.py``; the 0.1M tiny model,
``tiny.py``), the rule summariser of its cold start and the study itself (``toy_study.py``:
``python -m siri_verl.lab.toy_study``). It registers its assets and backend through
``catalogue.py``; nothing outside this package imports it.
"""
