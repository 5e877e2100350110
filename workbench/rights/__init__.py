"""Answering a data subject: the request register, access packages, letters, erasure, and the workflows
the command line, notebooks and dashboard share."""
