"""Data: readers for every format, column detection, label sets and splits."""

from headstart.data.columns import ColumnSpec, detect_columns
from headstart.data.examples import DataBundle, Examples, load_examples, load_splits, stratified_split
from headstart.data.labels import LabelSet
from headstart.data.readers import Table, read_table

__all__ = [
    "ColumnSpec",
    "DataBundle",
    "Examples",
    "LabelSet",
    "Table",
    "detect_columns",
    "load_examples",
    "load_splits",
    "read_table",
    "stratified_split",
]
