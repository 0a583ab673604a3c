"""The order-management system: webhooks in (signature, schema) and calls out (client)."""
