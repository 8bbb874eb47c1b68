"""The client and what it needs: settings, budgets, endpoints, forms, paging, errors, redaction
and Stripe's documented facts. Shared by every face; never imports the Airbyte CDK."""
