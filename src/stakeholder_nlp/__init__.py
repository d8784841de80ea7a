"""stakeholder_nlp: comparative thematic analysis of interview quotes collected in waves."""
__version__ = "0.1.0"
