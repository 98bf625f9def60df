"""One module per chapter that needs code of its own, named after its notebook.

    from helpers.chapters import ch10_when_async_helps as ch10

Code several chapters share lives in the concern packages (``helpers.server``,
``helpers.clients``, ``helpers.measure``); what is only the lesson of one chapter lives here.
"""
