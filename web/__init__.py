"""The rider page: HTML, ES modules and CSS, shipped as package data.

No Python lives here; the package exists so the files install with the wheel and are
found with :mod:`importlib.resources` (``api/routes/rider.py`` serves them).
"""
