"""Statistics over run directories: does frustration come before drastic actions?

This package reads run directories and scores; it never imports sandbox or model code.
"""
