"""Chapter 14: auth and sessions in async views (notebooks/14_auth_sessions.ipynb)."""
