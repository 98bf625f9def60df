"""``try/``: whatever a notebook cell mounted (see ``registry``). Starts empty."""

from lab_project.playground.registry import http_patterns

app_name = "try"
urlpatterns = http_patterns  # the same list object, changed in place by the registry
