"""WSGI entry point, for the threaded-WSGI baselines the lab compares async against."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lab_project.settings")

application = get_wsgi_application()
