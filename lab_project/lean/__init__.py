"""The lean ASGI path: Django's ASGIHandler without the thread hops that do nothing.

``handler.LeanASGIHandler`` serves ``lab_project.lean_asgi:application``; ``middleware`` holds
the bundled middleware run inline on the loop; ``executor`` lends a request its thread only
when it first runs sync code; ``request_signals`` decides when the request signals' sync
receivers have nothing to do.
"""
