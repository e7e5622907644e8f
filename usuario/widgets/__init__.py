"""The meter screen's tabs and the connection banner."""
