"""The command-line programs (``python -m tinysam_mobile.<name>`` runs ``cli/<name>.py``)."""
