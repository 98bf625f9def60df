"""The lab's settings with ``ATOMIC_REQUESTS = True`` — chapter 11's misconfiguration.

Used only by a server process the notebook starts with
``DJANGO_SETTINGS_MODULE=lab_project.common_mistakes.atomic_requests_settings``.
"""

from lab_project.settings import *  # noqa: F403
from lab_project.settings import DATABASES

DATABASES["default"]["ATOMIC_REQUESTS"] = True
ROOT_URLCONF = "lab_project.common_mistakes.atomic_requests_urls"
