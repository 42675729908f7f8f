"""shop-api: customers and their orders (the service pushgate's examples deploy)."""
