"""WooCommerce adapter for loyalty_plugins (REST ``wc/v3``)."""
