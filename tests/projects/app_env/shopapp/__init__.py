"""The service's own package (a FastAPI/Flask app in real life): settings and models."""
