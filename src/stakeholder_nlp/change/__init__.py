"""How each theme changed between waves, described from the quotes (the comparison a researcher writes up).

Modules: :mod:`.mode` (each quote's mode: anticipation / experience / prescription / other), and the change
records built from themes, sentiment and embeddings. Descriptive: every statement names its quotes and
speakers; the statistics stay in :mod:`stakeholder_nlp.shift`.
"""
