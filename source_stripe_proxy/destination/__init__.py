"""The Airbyte destination: creates and updates Stripe customers and products, never twice."""
