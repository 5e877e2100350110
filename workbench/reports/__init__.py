"""The DPIA-style and annual reports and their rendering."""
