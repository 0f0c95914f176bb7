"""Store sync engine: the platform-neutral HTTP policy, paging and webhook signatures."""
