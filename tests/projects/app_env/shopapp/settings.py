import os

DATABASE_URL = os.environ["SHOPAPP_DATABASE_URL"]  # the app's own settings, not sqlalchemy.url
