"""loyalty_plugins: a customer-loyalty program for WooCommerce and Shopify shops."""
