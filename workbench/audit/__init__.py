"""Accountability: the hash-chained audit trail and the privacy policy checked against the data and the
law."""
