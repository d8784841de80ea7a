"""Report: quotes, framework matrix and shift tables, figures, a self-contained HTML page, run.json."""

from .qdpx import QdpxValidationError, export_analysis, write_qdpx
from .tables import (
           MATRIX_COLUMNS,
           QUOTE_COLUMNS,
           SHIFT_TABLE_COLUMNS,
           framework_matrix,
           quotes_table,
           shift_table,
)
from .writer import FILES, OutputExistsError, check_output_dir, one_screen_summary, write_report

__all__ = ["FILES", "MATRIX_COLUMNS", "QUOTE_COLUMNS", "SHIFT_TABLE_COLUMNS", "OutputExistsError", "check_output_dir",
           "framework_matrix", "one_screen_summary", "quotes_table", "shift_table", "write_report",
           "QdpxValidationError", "export_analysis", "write_qdpx"]
