"""The results service: writes every database's first result set into its destination table."""
