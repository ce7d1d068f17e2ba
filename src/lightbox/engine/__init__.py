"""Lightbox's rendering engine: a pure imaging library.

Images and plain parameters in, images out. Nothing in this package imports the
web, the database or the queue.
"""
