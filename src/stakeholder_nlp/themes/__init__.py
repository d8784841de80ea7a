"""Themes: inductive topics (TopicModel), a researcher's codebook, hybrid mode, agreement with humans."""

from .agreement import codebook_agreement, partition_agreement
from .assign import MODES, THEME_COLUMNS, ThemeResult, fit_themes
from .codebook import Codebook, CodebookClassifier, Theme, load_codebook, parse_codebook
from .topics import TOPIC_INFO_COLUMNS, TopicModel

__all__ = ["MODES", "THEME_COLUMNS", "TOPIC_INFO_COLUMNS", "Codebook", "CodebookClassifier", "Theme", "ThemeResult",
           "TopicModel", "codebook_agreement", "fit_themes", "load_codebook", "parse_codebook",
           "partition_agreement"]
