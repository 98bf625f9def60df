"""View classes Django refuses, kept out of the URLconf on purpose.

``View.as_view()`` checks that a class's HTTP handlers are all sync or all async and raises
``ImproperlyConfigured`` otherwise. Routed in ``urls.py``, these classes would break the
URLconf as it loads; the notebook and the tests call ``as_view()`` on them directly instead.
"""

from django.http import JsonResponse
from django.views import View
from django.views.generic import RedirectView


class MixedHandlers(View):
    """``get`` is async, ``post`` is sync: one class cannot be both."""

    async def get(self, request):
        return JsonResponse({"handler": "get"})

    def post(self, request):
        return JsonResponse({"handler": "post"})


class AsyncRedirect(RedirectView):
    """Only ``get`` is written here, yet the class is mixed: RedirectView's inherited
    ``post``, ``put``, ``patch``, ``delete`` and ``head`` are sync."""

    url = "/"

    async def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
