"""Reading the exports: the canonical model, file formats, headers, identifiers, limits, column
discovery and one module per source system."""
