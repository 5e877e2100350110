"""Reviewed configuration as typed models: the register of processing, the vocabulary it is checked
against and the privacy policy's claims."""
