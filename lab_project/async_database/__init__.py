"""Chapter 17: a truly async database (PostgreSQL; stock a-methods, Django's pool, django-async-backend)."""
