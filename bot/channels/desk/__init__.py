"""The desk: a web page for the coordinator and staff, and the public transparency report."""
