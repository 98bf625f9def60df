"""Middleware defined in a notebook cell, given a dotted path for ``settings.MIDDLEWARE``.

Django loads middleware by import path; ``helpers.server.playground`` stores a cell's class or
factory here as an attribute so that ``lab_project.playground.middleware.<name>`` imports it.
"""
