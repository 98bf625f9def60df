"""The lab's Django project: one Django app per chapter family, named for it."""
