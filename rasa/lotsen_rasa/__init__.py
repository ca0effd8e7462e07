"""Lotsen's code for the Rasa environment (Python 3.10): graph components, parsing, the server."""
